#pragma once
// Test helper shared by the report and sweep tests.
#include <cctype>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace cnnb::test {

// A small XML well-formedness check (tags nest and match, attributes are quoted, entities are complete),
// so the test needs no XML library: "" when well-formed, else what is wrong and where.
inline std::string xml_problem(const std::string& x) {
  std::vector<std::string> open;
  size_t i = 0;
  auto name_at = [&](size_t p) {
    size_t e = p;
    while (e < x.size() && (std::isalnum(static_cast<unsigned char>(x[e])) || x[e] == ':' || x[e] == '-' || x[e] == '_' || x[e] == '.'))
      ++e;
    return x.substr(p, e - p);
  };
  while (i < x.size()) {
    if (x[i] == '&') {
      const size_t semi = x.find(';', i);
      if (semi == std::string::npos || semi - i > 10) return fmt::format("bad entity at {}", i);
      i = semi + 1;
      continue;
    }
    if (x[i] != '<') {
      if (x[i] == '>' && open.empty() && i > 0) return fmt::format("stray > at {}", i);
      ++i;
      continue;
    }
    if (x.compare(i, 4, "<!--") == 0) {
      const size_t e = x.find("-->", i);
      if (e == std::string::npos) return "unterminated comment";
      i = e + 3;
    } else if (x.compare(i, 2, "<?") == 0) {
      const size_t e = x.find("?>", i);
      if (e == std::string::npos) return "unterminated declaration";
      i = e + 2;
    } else if (x.compare(i, 9, "<![CDATA[") == 0) {
      const size_t e = x.find("]]>", i);
      if (e == std::string::npos) return "unterminated CDATA";
      i = e + 3;
    } else if (x.compare(i, 2, "<!") == 0) {
      const size_t e = x.find('>', i);
      if (e == std::string::npos) return "unterminated <!";
      i = e + 1;
    } else if (x.compare(i, 2, "</") == 0) {
      const std::string n = name_at(i + 2);
      if (open.empty() || open.back() != n)
        return fmt::format("</{}> at {} closes <{}>", n, i, open.empty() ? "nothing" : open.back());
      open.pop_back();
      const size_t e = x.find('>', i);
      if (e == std::string::npos) return "unterminated end tag";
      i = e + 1;
    } else {
      const std::string n = name_at(i + 1);
      if (n.empty()) return fmt::format("'<' not starting a tag at {}", i);
      size_t p = i + 1 + n.size();
      char quote = 0;
      for (; p < x.size(); ++p) {  // attributes: a '>' inside quotes does not end the tag
        if (quote) {
          if (x[p] == quote) quote = 0;
        } else if (x[p] == '"' || x[p] == '\'') {
          quote = x[p];
        } else if (x[p] == '>' || x[p] == '<') {
          break;
        }
      }
      if (p == x.size() || x[p] == '<') return fmt::format("unterminated tag <{}> at {}", n, i);
      if (x[p - 1] != '/') open.push_back(n);
      i = p + 1;
    }
  }
  return open.empty() ? "" : fmt::format("<{}> never closed", open.back());
}

}  // namespace cnnb::test
