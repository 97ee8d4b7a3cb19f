// Writing a repaired archive to an OutputSink: in place only the new directory and end records,
// in copy mode fresh local headers, the entries' data and any salvaged starts, then the directory.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "crypt/sysreptor_crypt.h"
#include "io/output.h"
#include "io/spill.h"
#include "io/source.h"
#include "repair/plan.h"

namespace zm::repair {

// Writes the repaired archive as entries are decided: in copy mode each entry's fresh local
// header, data and descriptor at once, its directory record to a temporary file; in place only
// the records. finish() appends the directory and end records. Nothing is committed here: the
// caller proves the result and then commits or rolls back. The sink is opened on the first
// entry, so that a repair that keeps nothing creates nothing.
class Writer {
 public:
  Writer(io::ByteSource& src, codec::Workspace& ws, std::function<io::OutputSink&()> open, bool in_place,
         std::string input_name);
  void add(const scan::Entry& e, zip::EntryRecord r);
  // The intact start of a cut or damaged entry, as NAME.partial (copy mode, after every add).
  void add_partial(const scan::Entry& e);
  // Nothing was added: no output was opened.
  bool empty() const { return !out_; }
  void finish();
  std::size_t records() const { return records_; }
  std::uint64_t bytes_salvaged() const { return salvaged_; }
  std::vector<report::Finding> findings;  // entry_salvaged
  // The new directory's records as report rows, in order (read back from the temporary file).
  std::shared_ptr<const io::Spill> directory() const { return directory_; }
  // Copy mode: the decode results of the entries copied, by their new local header's offset (the
  // proof does not decode them again), and where each one's data came from and went.
  const codec::KnownResults& known() const { return known_; }
  io::Spill& copies() { return copies_; }

 private:
  io::OutputSink& out();
  void put(const zip::EntryRecord& r);
  void copy_data(const scan::Entry& e);
  void emit(std::string_view bytes);
  void flush();
  static constexpr std::size_t kGather = 1u << 20;
  // Data of this size or more is copied by the kernel (copy_file_range) where it can; a smaller
  // entry's data is read into what is gathered, so that a million tiny entries cost megabyte
  // writes, not a flush and a copy each.
  static constexpr std::uint64_t kKernelCopy = 64u << 10;
  std::string pending_;
  io::ByteSource& src_;
  // Small entries' data, read in file order: one read of a MiB serves dozens of them, where each
  // would cost a system call of its own (a million tiny entries: a million preads).
  io::CachedSource small_reads_;
  codec::Workspace& ws_;
  std::function<io::OutputSink&()> open_;
  io::OutputSink* out_ = nullptr;
  bool in_place_;
  std::string input_name_;
  std::shared_ptr<io::Spill> directory_;
  std::uint64_t pos_ = 0, salvaged_ = 0;
  std::size_t records_ = 0;
  std::vector<std::uint8_t> buf_;
  codec::KnownResults known_;
  io::Spill copies_;
};

// One entry's data as the writer copied it (24 bytes in Writer::copies()).
struct Copied {
  std::uint64_t from, to, length;
};

// Whether the output holds, at each place the writer copied an entry's data to, the very bytes
// of the input it came from (the data was decoded and checked there, and is not decoded again):
// nullopt when it does, else the first difference, for the proof's message.
std::optional<std::string> check_copies(io::ByteSource& input, io::ByteSource& output, io::Spill& copies);

// The report rows of a repaired archive: its directory's records (all verified), then `rest`
// (the entries that were not kept, as the walk found them).
std::shared_ptr<const report::RowSource> repaired_rows(std::shared_ptr<const io::Spill> directory, std::size_t count,
                                                       std::vector<report::EntryRow> rest);

// A SysReptor .zip.crypt around another sink: header and ciphertext as data comes, the GCM tag
// on finish(). The proof reads the inner sink's bytes back and decrypts them.
class EncryptingSink final : public io::OutputSink {
 public:
  EncryptingSink(io::OutputSink& inner, const crypt::Key& key, const std::string& key_id)
      : inner_(inner), enc_(inner, key, key_id) {}
  void write(std::string_view data) override { enc_.write(data); }
  void finish() override {
    enc_.finish();
    inner_.finish();
  }
  const std::string& readback_path() const override { return inner_.readback_path(); }
  void commit() override { inner_.commit(); }
  void rollback() override { inner_.rollback(); }
  const char* mode() const override { return inner_.mode(); }

 private:
  io::OutputSink& inner_;
  crypt::EncryptingWriter enc_;
};

}  // namespace zm::repair
