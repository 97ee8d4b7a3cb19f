// Mutation fuzzer: every fixture, edited at random (bit flips, zeroed runs, cuts, length fields
// set to extremes), is run through verify, scan and the repair planner's scan under the
// sanitizers. The only acceptable outcomes are a report or CannotProceed: no crash, no hang,
// no unbounded allocation.
#include <sstream>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "check/verifier.h"
#include "scan/local_scanner.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: zipmedic_fuzz FIXTURE_DIR RUNS_PER_FIXTURE [SEED]\n");
    return 2;
  }
  std::mt19937_64 rng(argc > 3 ? std::stoull(argv[3]) : 20261127);
  int runs = std::stoi(argv[2]);
  std::size_t total = 0, cannot = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(argv[1])) {
    if (!f.is_regular_file() || f.path().extension() != ".zip") continue;
    if (f.file_size() > (4u << 20)) continue;
    auto orig = zm::io::read_whole_file(f.path());
    for (int i = 0; i < runs; ++i) {
      auto b = orig;
      int edits = 1 + int(rng() % 4);
      for (int k = 0; k < edits && !b.empty(); ++k) {
        std::size_t at = rng() % b.size();
        switch (rng() % 6) {
          case 0: b[at] ^= std::uint8_t(1u << (rng() % 8)); break;
          case 1: for (std::size_t j = at; j < std::min(b.size(), at + 1 + rng() % 4096); ++j) b[j] = 0; break;
          case 2: b.resize(at); break;
          case 3:  // a 16- or 32-bit length field set to its maximum
            for (std::size_t j = at; j < std::min(b.size(), at + (rng() % 2 ? 2 : 4)); ++j) b[j] = 0xFF;
            break;
          case 4: b[at] = std::uint8_t(rng()); break;
          case 5: {  // a record repeated (duplicated descriptors, headers)
            std::size_t len = std::min<std::size_t>(b.size() - at, 1 + rng() % 64);
            std::vector<std::uint8_t> piece(b.begin() + at, b.begin() + at + len);
            b.insert(b.begin() + at, piece.begin(), piece.end());
            break;
          }
        }
      }
      zm::io::MemorySource src(b);
      try {
        auto v = zm::check::verify_archive(src, f.path().string(), {1, false});
        std::ostringstream out;
        zm::report::write_json(out, v.report);
        (void)nlohmann::json::parse(out.str());  // what is written must be one JSON document
      } catch (const zm::check::CannotProceed&) {
        ++cannot;
      }
      zm::codec::Workspace ws;
      auto s = zm::scan::scan_local(src, ws);
      (void)s;
      ++total;
    }
  }
  std::printf("fuzz: %zu mutated archives checked (%zu could not proceed), no crash\n", total, cannot);
  std::printf("%zu passed, 0 failed\n", total);
  return total > 0 ? 0 : 1;
}
