#include "cli/outputs.h"

#include <streambuf>

#include "io/failure.h"
#include "io/source.h"

namespace zm::cli {

class SinkStream::Buf final : public std::streambuf {
 public:
  explicit Buf(io::OutputSink& sink) : sink_(sink) { setp(buf_, buf_ + sizeof buf_); }
  std::string error;

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    const std::size_t n = std::size_t(pptr() - pbase());
    setp(buf_, buf_ + sizeof buf_);
    if (n == 0 || !error.empty()) return error.empty() ? 0 : -1;
    try {
      sink_.write({buf_, n});
    } catch (const std::exception& e) {
      error = e.what();
      return -1;
    }
    return 0;
  }

 private:
  io::OutputSink& sink_;
  char buf_[64 << 10];
};

SinkStream::SinkStream(io::OutputSink& sink) : std::ostream(nullptr), buf_(std::make_unique<Buf>(sink)) {
  rdbuf(buf_.get());
}

SinkStream::~SinkStream() = default;

void SinkStream::check() {
  flush();
  if (!buf_->error.empty()) throw io::Failure(io::Fail::cannot_write, buf_->error);
}

Outputs::Outputs(const CommonOptions& o, std::string started) : started_(std::move(started)) {
  if (!o.report_path.empty()) {
    report_ = std::make_unique<io::AtomicOutputFile>(o.report_path);
    report_stream_ = std::make_unique<SinkStream>(*report_);
  }
  if (!o.junit_path.empty()) junit_ = std::make_unique<io::AtomicOutputFile>(o.junit_path);
}

Outputs::~Outputs() = default;  // a file not committed is removed with its temporary

void Outputs::commit(const std::string& command) {
  if (report_stream_) report_stream_->check();
  if (junit_) {
    SinkStream out(*junit_);
    report::write_junit(out, command, cases_, started_);
    out.check();
  }
  if (report_) report_->commit();
  if (junit_) junit_->commit();
}

}  // namespace zm::cli
