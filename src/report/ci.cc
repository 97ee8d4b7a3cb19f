#include "report/ci.h"

#include <fmt/format.h>

#include <ostream>

namespace zm::report {

namespace {

// What a finding is about, before its message: "entry 'a/b.txt' at offset 120".
std::string where_of(const Finding& f) {
  std::string where;
  if (f.entry) where = fmt::format("entry '{}'", shown_entry(f));
  if (f.offset) where += fmt::format("{}at offset {}", where.empty() ? "" : " ", *f.offset);
  return where;
}

std::string located(const Finding& f) {
  std::string where = where_of(f);
  return where.empty() ? f.message : where + ": " + f.message;
}

// Is this finding one that fails the run: an error, or a warning under --strict?
bool failing(const Finding& f, bool strict) {
  return f.severity == Severity::error || (strict && f.severity == Severity::warning);
}

}  // namespace

// actions/toolkit, packages/core/src/command.ts (escapeData, escapeProperty): the runner reads a
// command's message up to the end of the line and its properties up to ',' and the value after
// '::', so these characters are written as percent escapes, which it decodes.
std::string github_escape_data(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '\r')
      out += "%0D";
    else if (c == '\n')
      out += "%0A";
    else
      out += c;
  }
  return out;
}

std::string github_escape_property(std::string_view s) {
  std::string out;
  for (char c : github_escape_data(s)) {
    if (c == ':')
      out += "%3A";
    else if (c == ',')
      out += "%2C";
    else
      out += c;
  }
  return out;
}

void write_github(std::ostream& os, const Report& r, bool strict) {
  const std::string file = github_escape_property(printable_name(r.archive_path));
  std::string out;
  for (const auto& f : r.findings) {
    if (f.severity == Severity::info) continue;
    const char* kind = failing(f, strict) ? "error" : "warning";
    out += fmt::format("::{} file={},title={}::{}\n", kind, file,
                       github_escape_property(fmt::format("zipmedic {} {}", r.command, to_string(f.code))),
                       github_escape_data(located(f)));
    if (out.size() >= (64u << 10)) {
      os << out;
      out.clear();
    }
  }
  os << out;
}

JUnitCase junit_case(const Report& r, bool strict, double seconds) {
  JUnitCase c;
  c.name = printable_name(r.archive_path);
  c.classname = "zipmedic." + r.command;
  c.seconds = seconds;
  c.unreadable = r.verdict == Verdict::unreadable;
  for (const auto& f : r.findings) {
    const std::string line = fmt::format("{}: {}: {}", to_string(f.severity), to_string(f.code), located(f));
    if (failing(f, strict) || c.unreadable)
      c.failures.push_back({std::string(to_string(f.code)), located(f), line});
    else
      c.output += line + "\n";
  }
  // A verdict that failed with no finding of its own kind (repair that wrote nothing) still fails.
  if (c.failures.empty() && r.verdict != Verdict::ok)
    c.failures.push_back({to_string(r.verdict), std::string("verdict ") + to_string(r.verdict), ""});
  return c;
}

namespace {

// XML 1.0 text and attribute values: the five markup characters as references, and the control
// characters XML 1.0 cannot hold at all (all below 0x20 but tab, LF and CR) as \xNN, as the text
// report shows them.
std::string xml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += "&#9;"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += ch;
    }
  }
  return out;
}

// Element text keeps its line breaks as they are.
std::string xml_text(std::string_view s) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '\n') {
      out += xml(s.substr(from, i - from));
      if (i < s.size()) out += '\n';
      from = i + 1;
    }
  return out;
}

void write_case(std::string& out, const JUnitCase& c) {
  out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\"", xml(c.name), xml(c.classname),
                     c.seconds);
  if (c.failures.empty() && c.output.empty()) {
    out += "/>\n";
    return;
  }
  out += ">\n";
  // JUnit's "error" is a test that could not run: an archive that could not be read at all.
  const char* element = c.unreadable ? "error" : "failure";
  for (const auto& p : c.failures)
    out += fmt::format("      <{} type=\"{}\" message=\"{}\">{}</{}>\n", element, xml(p.type), xml(p.message),
                       xml_text(p.text), element);
  if (!c.output.empty()) out += "      <system-out>" + xml_text(c.output) + "</system-out>\n";
  out += "    </testcase>\n";
}

}  // namespace

void write_junit(std::ostream& os, const std::string& command, const std::vector<JUnitCase>& cases,
                 const std::string& timestamp) {
  std::size_t failed = 0, errors = 0;
  double seconds = 0;
  for (const auto& c : cases) {
    (c.unreadable ? errors : failed) += !c.failures.empty();
    seconds += c.seconds;
  }
  const std::string counts = fmt::format("tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3f}\"",
                                         cases.size(), failed, errors, seconds);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"zipmedic {}\" {}>\n", xml(command), counts);
  out += fmt::format("  <testsuite name=\"zipmedic {}\" {} timestamp=\"{}\">\n", xml(command), counts, xml(timestamp));
  for (const auto& c : cases) {
    write_case(out, c);
    if (out.size() >= (64u << 10)) {
      os << out;
      out.clear();
    }
  }
  out += "  </testsuite>\n</testsuites>\n";
  os << out;
}

}  // namespace zm::report
