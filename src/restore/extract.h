// Writing a planned restore: every entry decoded once, on the worker pool, into a staging folder
// inside DIR, checked (CRC, size) as it is written; then, once the whole archive has verified,
// moved into place with renameat2, each step undone if a later one fails. docs/design.md,
// "restore".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/source.h"
#include "report/report.h"
#include "restore/beneath.h"
#include "restore/plan.h"

namespace zm::restore {

// What is already in DIR where the plan writes: files and links replaced only with --force (a
// link where a folder goes included), a directory where a file goes never.
struct Targets {
  std::vector<report::Finding> findings;
  std::size_t conflicts = 0;    // --force replaces them
  std::size_t directories = 0;  // folders where files go: never replaced
};
Targets judge_targets(int dir, const std::string& shown_dir, const Plan& plan, bool overwrite);

class Staging {
 public:
  // Makes the staging folder inside the open directory `dir` (shown as `shown_dir`).
  Staging(int dir, std::string shown_dir, const Plan& plan);
  // Removes the staging folder and whatever is still in it (after commit(): what was replaced).
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // The folders, then every file decoded on `threads` workers, then the links.
  void write(io::ByteSource& src, unsigned threads, const std::string* password);
  // Decode results of what was written, for verify (it then decodes none of them again). They
  // move out: what stays is whether each file matched the directory, for commit().
  codec::KnownResults take_known();
  // Drops what is not accepted (by index in the plan), then moves the rest into DIR: renameat2
  // with RENAME_NOREPLACE, or RENAME_EXCHANGE for what --force replaces. A step that fails undoes
  // the ones before it and throws io::Failure (cannot_write).
  void commit(const std::vector<bool>& accepted, bool overwrite);

 private:
  enum State : std::uint8_t { none, staged, pruned, kept_as_folder };
  struct Worker;
  struct Job;
  void write_file(Worker& w, std::size_t i, const std::string* password);
  void make_folders();
  void write_files(io::ByteSource& src, unsigned threads, const std::string* password);
  void make_links();
  void prune(const std::vector<bool>& accepted);
  void move_into_place(bool overwrite);
  void roll_back() noexcept;
  void finish_folders(const std::vector<bool>& accepted);

  int dir_;
  std::string shown_dir_;
  const Plan& plan_;
  std::string name_;  // of the staging folder, in DIR
  Fd stage_;
  std::vector<State> state_;
  // Where the entry's local header is comes along, so that the plan's claims can be let go of
  // before take_known() sorts these by it.
  struct Decoded {
    std::uint64_t lfh_offset = 0, consumed = 0, produced = 0;
    std::uint32_t crc = 0;
    bool ok = false;       // the stream ended well
    bool matches = false;  // and gave the directory's CRC and size
  };
  std::vector<Decoded> decoded_;  // until take_known()
  std::vector<bool> matched_;     // from take_known() on
  struct Step {
    std::size_t item;
    bool exchanged;
  };
  std::vector<Step> journal_;
};

}  // namespace zm::restore
