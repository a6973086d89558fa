// SPDX-License-Identifier: BSD-3-Clause
// Line charts rasterised into an RGB buffer; stb_image_write encodes the PNG.
#include "plot.hpp"

#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace demo {
namespace {

struct Canvas {
  int w, h;
  std::vector<unsigned char> px;
  Canvas(int w_, int h_) : w(w_), h(h_), px(std::size_t(w_) * h_ * 3, 255) {}
  void set(int x, int y, const unsigned char* c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    unsigned char* p = &px[(std::size_t(y) * w + x) * 3];
    p[0] = c[0];
    p[1] = c[1];
    p[2] = c[2];
  }
  void rect(int x0, int y0, int x1, int y1, const unsigned char* c) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) set(x, y, c);
  }
  // A line `thick` pixels wide (Bresenham, with a square brush).
  void line(double fx0, double fy0, double fx1, double fy1, const unsigned char* c, int thick) {
    int x0 = int(std::lround(fx0)), y0 = int(std::lround(fy0));
    const int x1 = int(std::lround(fx1)), y1 = int(std::lround(fy1));
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      rect(x0 - thick / 2, y0 - thick / 2, x0 - thick / 2 + thick, y0 - thick / 2 + thick, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  // Text from stb_easy_font's quads, scaled by `scale`.
  void text(int x, int y, const std::string& s, const unsigned char* c, int scale = 2) {
    static char buf[60000];
    const int quads =
        stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buf, sizeof buf);
    const float* v = reinterpret_cast<const float*>(buf);
    for (int q = 0; q < quads; ++q) {
      const float* p = v + q * 16;  // 4 vertices of x, y, z, colour
      const int qx0 = int(p[0]), qy0 = int(p[1]), qx1 = int(p[8]), qy1 = int(p[9]);
      rect(x + qx0 * scale, y + qy0 * scale, x + qx1 * scale, y + qy1 * scale, c);
    }
  }
  static int text_width(const std::string& s, int scale = 2) {
    return stb_easy_font_width(const_cast<char*>(s.c_str())) * scale;
  }
};

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, std::abs(v) >= 100 ? "%.0f" : std::abs(v) >= 10 ? "%.1f" : "%.2f", v);
  return b;
}

void draw_panel(Canvas& cv, const Panel& p, int ox, int oy, int pw, int ph) {
  const unsigned char black[3] = {30, 30, 30}, grey[3] = {225, 225, 225};
  const int left = ox + 70, right = ox + pw - 20, top = oy + 50, bottom = oy + ph - 60;
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  for (const Series& s : p.series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  if (xmin > xmax) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  const double pad = (ymax - ymin) * 0.08 + 1e-9;
  ymin = ymin >= 0 ? std::max(0.0, ymin - pad) : ymin - pad;  // losses and rates stay >= 0
  ymax += pad;
  auto X = [&](double x) { return left + (x - xmin) / (xmax - xmin) * (right - left); };
  auto Y = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * (bottom - top); };
  for (int k = 0; k <= 5; ++k) {  // grid and tick labels
    const double yv = ymin + (ymax - ymin) * k / 5, xv = xmin + (xmax - xmin) * k / 5;
    cv.line(left, Y(yv), right, Y(yv), grey, 1);
    cv.line(X(xv), top, X(xv), bottom, grey, 1);
    const std::string ys = fmt(yv), xs = fmt(xv);
    cv.text(left - 8 - Canvas::text_width(ys), int(Y(yv)) - 6, ys, black);
    cv.text(int(X(xv)) - Canvas::text_width(xs) / 2, bottom + 8, xs, black);
  }
  cv.line(left, bottom, right, bottom, black, 2);
  cv.line(left, top, left, bottom, black, 2);
  cv.text(ox + (pw - Canvas::text_width(p.title, 3)) / 2, oy + 12, p.title, black, 3);
  cv.text(left + (right - left - Canvas::text_width(p.xlabel)) / 2, bottom + 30, p.xlabel, black);
  int ly = top + 6;
  for (const Series& s : p.series) {
    for (std::size_t i = 1; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i - 1]) && std::isfinite(s.y[i]))
        cv.line(X(s.x[i - 1]), Y(s.y[i - 1]), X(s.x[i]), Y(s.y[i]), s.rgb, 3);
    for (std::size_t i = 0; i < s.x.size() && s.x.size() <= 50; ++i)  // markers: sparse series
      if (std::isfinite(s.y[i]))
        cv.rect(int(X(s.x[i])) - 3, int(Y(s.y[i])) - 3, int(X(s.x[i])) + 4, int(Y(s.y[i])) + 4,
                s.rgb);
    cv.rect(right - 150, ly + 4, right - 130, ly + 10, s.rgb);  // legend
    cv.text(right - 124, ly, s.label, black);
    ly += 22;
  }
}

}  // namespace

bool write_line_charts(const std::string& path, const std::vector<Panel>& panels, int width,
                       int height) {
  Canvas cv(width, height);
  const int pw = width / std::max<int>(1, int(panels.size()));
  for (std::size_t i = 0; i < panels.size(); ++i)
    draw_panel(cv, panels[i], int(i) * pw, 0, pw, height);
  return stbi_write_png(path.c_str(), width, height, 3, cv.px.data(), width * 3) != 0;
}

}  // namespace demo
