// SPDX-License-Identifier: BSD-3-Clause
// The compiled half of kiln's error messages (see error.hpp for why it is out of line).
#include <charconv>
#include <kiln/core/error.hpp>
#include <ostream>
#include <sstream>

namespace kiln::detail {

std::string build_message(std::initializer_list<MsgArg> args) {
  std::string out;
  std::ostringstream os;  // only for doubles and streamed objects, in the stream's format
  auto streamed = [&](auto&& print) {
    os.str({});
    print(os);
    out += os.str();
  };
  for (const MsgArg& a : args) {
    char buf[24];
    switch (a.kind) {
      case MsgArg::kStr:
        out += a.str;
        break;
      case MsgArg::kChar:
        out += a.c;
        break;
      case MsgArg::kSigned:
        out.append(buf, std::to_chars(buf, buf + sizeof buf, a.i).ptr);
        break;
      case MsgArg::kUnsigned:
        out.append(buf, std::to_chars(buf, buf + sizeof buf, a.u).ptr);
        break;
      case MsgArg::kDouble:
        streamed([&](std::ostream& s) { s << a.d; });
        break;
      case MsgArg::kStreamed:
        streamed([&](std::ostream& s) { a.obj.print(s, a.obj.value); });
        break;
    }
  }
  return out;
}

}  // namespace kiln::detail
