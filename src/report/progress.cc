#include "report/progress.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace zm::report {

namespace {

bool term_is_dumb() {
  const char* t = std::getenv("TERM");
  return t && std::strcmp(t, "dumb") == 0;
}

std::atomic<bool> g_colour{false};

}  // namespace

Progress::Progress(bool enabled, std::uint64_t total, std::string_view phase) : total_(total), phase_(phase) {
  active_ = enabled && ::isatty(STDERR_FILENO) && total > 0;
  dumb_ = term_is_dumb();
  if (active_)
    thread_ = std::thread([this] {
      // SIGINT, SIGTERM and SIGHUP go to the thread that registers temporary files (io/cleanup.h).
      sigset_t s;
      sigemptyset(&s);
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&s, sig);
      ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
      run();
    });
}

Progress::~Progress() { finish(); }

void Progress::draw(const std::string& line) {
  if (dumb_) {
    // A dumb terminal knows carriage return and nothing else: a shorter line is padded with
    // spaces over what the last one left.
    std::string pad(drawn_ > line.size() ? drawn_ - line.size() : 0, ' ');
    fmt::print(stderr, "\r{}{}", line, pad);
  } else {
    fmt::print(stderr, "\r\033[K{}", line);
  }
  drawn_ = line.size();
  std::fflush(stderr);
}

void Progress::finish() {
  if (!active_) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  // Nothing drawn (a short run), nothing to erase: the report's first line stays clean.
  if (drawn_ && dumb_) {
    fmt::print(stderr, "\r{}\r", std::string(drawn_, ' '));
  } else if (drawn_) {
    std::fputs("\r\033[K", stderr);
  }
  std::fflush(stderr);
  active_ = false;
}

void Progress::run() {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  // Short runs draw nothing; ZIPMEDIC_PROGRESS_AFTER moves the threshold (the slow test's 4 GiB of
  // zeros decodes in well under half a second on a fast core).
  double after = 0.5;
  if (const char* env = std::getenv("ZIPMEDIC_PROGRESS_AFTER"); env && *env) after = std::atof(env);
  // A zero threshold draws each phase once at its start, however short it is: the tests that
  // look for a phase's name must not depend on how fast the machine is.
  bool now = after <= 0;
  while (now || !stop_) {
    if (!now) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = false;
    double secs = std::chrono::duration<double>(clock::now() - start).count();
    if (secs < after) continue;
    if (total_ == kUnsized) {
      draw(fmt::format("{}  {:.0f} s", phase_, secs));
      continue;
    }
    std::uint64_t done = std::min<std::uint64_t>(done_.load(), total_);
    double rate = done / secs;
    double left = rate > 0 ? (total_ - done) / rate : 0;
    draw(fmt::format("{}  {:5.1f}%  {} of {}  {:.0f} MiB/s  {:.0f} s left", phase_, 100.0 * done / total_,
                     human_size(done), human_size(total_), rate / (1 << 20), left));
  }
}

bool colour_wanted(int fd) {
  // force-color.org: FORCE_COLOR set and not empty, whatever its value, forces colour (a CI log
  // renders it but is not a terminal); it wins over NO_COLOR as in Node.js, being the narrower
  // request. no-color.org: NO_COLOR set and not empty turns it off.
  const char* force = std::getenv("FORCE_COLOR");
  if (force && *force) return true;
  const char* no = std::getenv("NO_COLOR");
  if (no && *no) return false;
  return ::isatty(fd) && !term_is_dumb();
}

void set_colour(bool on) { g_colour = on; }
bool colour() { return g_colour; }

std::string paint(std::string_view text, Tone t) {
  if (!g_colour) return std::string(text);
  const char* sgr = "";
  switch (t) {
    case Tone::good: sgr = "32"; break;
    case Tone::bad: sgr = "1;31"; break;
    case Tone::warn: sgr = "33"; break;
    case Tone::dim: sgr = "2"; break;
    case Tone::bold: sgr = "1"; break;
  }
  return fmt::format("\033[{}m{}\033[0m", sgr, text);
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = bytes / 1024.0;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  // Three significant digits; 1023.5 rounds to "1024 KiB" rather than "1.00 MiB", which is rare
  // enough to leave.
  if (v < 10) return fmt::format("{:.2f} {}", v, units[u]);
  if (v < 100) return fmt::format("{:.1f} {}", v, units[u]);
  return fmt::format("{:.0f} {}", v, units[u]);
}

std::string count_of(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace zm::report
