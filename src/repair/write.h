// Writing a RepairPlan to an OutputSink: in place only the new directory and end records, in
// copy mode fresh local headers, the entries' data and any salvaged starts, then the directory.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "crypt/sysreptor_crypt.h"
#include "io/output.h"
#include "io/source.h"
#include "repair/plan.h"

namespace zm::repair {

struct Written {
  std::vector<zip::EntryRecord> records;  // the new directory, in order
  std::uint64_t bytes_salvaged = 0;       // uncompressed bytes of the entries written
  std::vector<report::Finding> findings;  // entry_salvaged
};

// Nothing is committed here: the caller proves the result and then commits or rolls back.
Written write(const RepairPlan& plan, io::ByteSource& src, codec::Workspace& ws, io::OutputSink& out,
              const std::string& input_name);

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
