// What a person at a terminal sees besides the report: the progress line (on stderr, only when it
// is a terminal, at most ten times a second, erased before anything else is printed), colour, and
// sizes in units people read.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

namespace zm::report {

class Progress {
 public:
  // `enabled` is false for --quiet and --json; the terminal test is made here. `phase` names what
  // the bytes are being used for (reading, decoding, writing, proving); a total of 0 draws
  // nothing. A `total` of kUnsized draws the
  // phase and the time spent, for work whose size is not known in advance.
  static constexpr std::uint64_t kUnsized = ~std::uint64_t(0);
  Progress(bool enabled, std::uint64_t total, std::string_view phase = "reading");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  std::atomic<std::uint64_t>& counter() { return done_; }
  void finish();

 private:
  void run();
  void draw(const std::string& line);
  std::atomic<std::uint64_t> done_{0};
  std::uint64_t total_;
  std::string phase_;
  bool active_ = false;
  bool dumb_ = false;          // TERM=dumb: no escape sequences, only \r and spaces
  std::size_t drawn_ = 0;      // width of the last line drawn, to blank it without \e[K
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Colour in text reports (--color auto): when FORCE_COLOR is set and not empty
// (force-color.org); else only when `fd` is a terminal, NO_COLOR is unset or empty
// (no-color.org) and TERM is not dumb. Decided once per run by the command line, where
// --color always or never overrides it.
bool colour_wanted(int fd);
void set_colour(bool on);
bool colour();

enum class Tone { good, bad, warn, dim, bold };
// `text` wrapped in the tone's SGR sequence when colour is on; unchanged otherwise.
std::string paint(std::string_view text, Tone t);

// 1023 B, 1.0 KiB, 12.4 MiB, 3.21 GiB: binary units, three significant digits.
std::string human_size(std::uint64_t bytes);
// "1 entry", "2 entries"; `one`/`many` are the two forms of the noun.
std::string count_of(std::uint64_t n, std::string_view one, std::string_view many);

}  // namespace zm::report
