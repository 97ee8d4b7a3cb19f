// The report as CI systems display it: GitHub Actions' workflow commands (annotations on the run
// page) and JUnit XML (the test views of GitLab and Jenkins).
#pragma once
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace zm::report {

// GitHub's escaping of a workflow command's message (%, CR, LF) and, in a property, also of ':'
// and ',' (the runner's CommandExtensions.EscapeData and EscapeProperty).
std::string github_escape_data(std::string_view s);
std::string github_escape_property(std::string_view s);

// One `::error file=...,title=...::message` line per error finding and `::warning` per warning
// (under `strict` a warning is a failure, so it is an ::error). Notes are left out.
void write_github(std::ostream& os, const Report& r, bool strict);

// One archive as a JUnit test case: its failures are the findings that failed it (errors, and
// warnings under --strict); an archive that could not be read at all has errors instead.
struct JUnitCase {
  struct Problem {
    std::string type, message, text;
  };
  std::string name;       // the archive's path
  std::string classname;  // zipmedic.COMMAND
  double seconds = 0;
  bool unreadable = false;
  std::vector<Problem> failures;
  std::string output;  // warnings and notes that did not fail it, for system-out
};

JUnitCase junit_case(const Report& r, bool strict, double seconds);
// The whole run as one <testsuites> holding one <testsuite> (the command) of the cases, with
// `timestamp` (RFC 3339) as the suite's start.
void write_junit(std::ostream& os, const std::string& command, const std::vector<JUnitCase>& cases,
                 const std::string& timestamp);

}  // namespace zm::report
