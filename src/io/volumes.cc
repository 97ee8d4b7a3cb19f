#include "io/volumes.h"

#include <algorithm>
#include <cstring>

namespace zm::io {

VolumeSource::VolumeSource(std::vector<Part> parts, std::uint64_t skip, bool disk_numbers)
    : parts_(std::move(parts)), skip_(skip), disk_numbers_(disk_numbers) {
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    auto& p = parts_[i];
    std::unique_ptr<FileSource> f;
    if (p.present) {
      f = std::make_unique<FileSource>(p.path);
      p.span = std::max(p.span, f->size());
    }
    std::uint64_t shown = p.span;
    if (i == 0) shown -= std::min(shown, skip_);
    starts_.push_back(size_);
    size_ += shown;
    files_.push_back(std::move(f));
  }
}

std::pair<std::size_t, std::uint64_t> VolumeSource::locate(std::uint64_t pos) const {
  std::size_t i = std::size_t(std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin());
  i = i ? i - 1 : 0;
  // Empty volumes share their start with the next one: the bytes are in the last of them.
  return {i, pos - starts_[i] + (i == 0 ? skip_ : 0)};
}

std::size_t VolumeSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (offset >= size_ || buf.empty()) return 0;
  auto [i, at] = locate(offset);
  const std::uint64_t part_end = i + 1 < starts_.size() ? starts_[i + 1] : size_;
  std::size_t want = std::size_t(std::min<std::uint64_t>(buf.size(), part_end - offset));
  const std::uint64_t held = files_[i] ? files_[i]->size() : 0;
  if (at >= held) {
    std::memset(buf.data(), 0, want);
    return want;
  }
  want = std::size_t(std::min<std::uint64_t>(want, held - at));
  return files_[i]->read_some(at, buf.first(want));
}

std::optional<std::uint64_t> VolumeSource::disk_position(std::uint32_t disk, std::uint64_t offset) const {
  if (!disk_numbers_) return disk == 0 ? std::optional(offset) : std::nullopt;
  if (disk >= parts_.size()) return std::nullopt;
  if (disk == 0) return offset >= skip_ ? std::optional(offset - skip_) : std::nullopt;
  return starts_[disk] + offset;
}

}  // namespace zm::io
