// The files one run writes its reports to besides standard output: --report's JSON Lines and
// --junit's XML. Each is written to a temporary file beside its target and renamed into place
// when the run ends, whatever its exit status (3 included), so that a CI job's artefact is whole
// or absent, never half written, and an older one is replaced only by a finished one.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "io/output.h"
#include "report/ci.h"
#include "report/report.h"

namespace zm::cli {

// A stream onto an io::OutputSink. A failed write is kept and thrown by check(), since a
// stream's operator<< cannot throw it where it happened.
class SinkStream final : public std::ostream {
 public:
  explicit SinkStream(io::OutputSink& sink);
  ~SinkStream() override;
  // Writes out what is buffered; throws io::IoError when any write failed.
  void check();

 private:
  class Buf;
  std::unique_ptr<Buf> buf_;
};

class Outputs {
 public:
  // Opens the temporary files; throws io::IoError when one cannot be made.
  Outputs(const CommonOptions& o, std::string started);
  ~Outputs();
  // Where each archive's JSON line goes besides --json's standard output: nullptr without --report.
  std::ostream* json() { return report_stream_.get(); }
  bool junit() const { return junit_ != nullptr; }
  void add_case(report::JUnitCase c) { cases_.push_back(std::move(c)); }
  bool any() const { return report_ || junit_; }
  // Writes the JUnit file and renames both into place. Throws io::IoError.
  void commit(const std::string& command);

 private:
  std::string started_;
  std::unique_ptr<io::AtomicOutputFile> report_, junit_;
  std::unique_ptr<SinkStream> report_stream_;
  std::vector<report::JUnitCase> cases_;
};

}  // namespace zm::cli
