// A split archive's volumes read as one run of bytes (APPNOTE 8.5: a spanned or split set).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/source.h"

namespace zm::io {

// The volumes of a set in order, each volume's bytes placed one after the other. A volume that
// is missing, or shorter than the set's other volumes, keeps its place: the bytes it lacks read
// as zeros, so that what follows stays where the writer put it (7-Zip's pieces hold offsets
// counted from the first byte of the first piece) and a walk resumes after the hole.
class VolumeSource final : public ByteSource {
 public:
  struct Part {
    std::string path;
    bool present = true;
    std::uint64_t span = 0;  // bytes this volume takes in the joined view (at least what the file holds)
  };
  // `skip`: bytes at the start of the first volume that are not shown (Info-ZIP's spanning
  // signature, 8.5.3). `disk_numbers`: the directory counts offsets from the start of each
  // volume (PKWARE/Info-ZIP sets) rather than from the start of the first (7-Zip's pieces).
  VolumeSource(std::vector<Part> parts, std::uint64_t skip, bool disk_numbers);
  std::uint64_t size() const override { return size_; }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;
  std::uint32_t disks() const override { return disk_numbers_ ? std::uint32_t(parts_.size()) : 0; }
  std::optional<std::uint64_t> disk_position(std::uint32_t disk, std::uint64_t offset) const override;

  // Which volume holds position `pos` of the view, and the offset inside that volume's file.
  std::pair<std::size_t, std::uint64_t> locate(std::uint64_t pos) const;
  // Where volume i starts in the view (volume 0: 0; its skipped bytes are before the view).
  std::uint64_t start_of(std::size_t i) const { return starts_[i]; }
  std::size_t count() const { return parts_.size(); }
  const Part& part(std::size_t i) const { return parts_[i]; }
  std::uint64_t skipped() const { return skip_; }

 private:
  std::vector<Part> parts_;
  std::vector<std::unique_ptr<FileSource>> files_;  // null for a missing volume
  std::vector<std::uint64_t> starts_;
  std::uint64_t skip_ = 0, size_ = 0;
  bool disk_numbers_ = false;
};

}  // namespace zm::io
