// SPDX-License-Identifier: BSD-3-Clause
// A small line-chart renderer for the demo's training curves, written as PNG with libstb's
// image writer; text comes from stb_easy_font.
#pragma once

#include <string>
#include <vector>

namespace demo {

struct Series {
  std::string label;
  std::vector<double> x, y;
  unsigned char rgb[3];
};

struct Panel {
  std::string title, xlabel;
  std::vector<Series> series;
};

/// Draws the panels side by side into a width x height image and writes it to `path`.
/// Returns false if the file could not be written.
bool write_line_charts(const std::string& path, const std::vector<Panel>& panels, int width,
                       int height);

}  // namespace demo
