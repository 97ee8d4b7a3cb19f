#include "scan/volumes.h"

#include <dirent.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "io/source.h"
#include "zip/records.h"

namespace zm::scan {
namespace {

// 7-Zip is the one reader here that reads a split set (8.5); the others lack the feature and get
// the set's note. A volume that is missing or cut is damage for 7-Zip.
const report::ReaderGroups kSplitSetReaders{report::kSevenZip, 0,
                                            report::Readers(report::kAllReaders & ~report::kSevenZip)};

// More volumes than this are taken for names that only look like a set (and a damaged end record's
// disk number for nothing): each missing one would be a finding.
constexpr unsigned kMaxVolumes = 9999;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The files in `dir` named `base` + `sep` + digits (at least `min_digits`), by number.
std::map<unsigned, std::string> numbered_siblings(const std::string& dir, const std::string& prefix,
                                                  const std::string& base, const std::string& sep,
                                                  std::size_t min_digits) {
  std::map<unsigned, std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n.size() <= base.size() + sep.size() || n.compare(0, base.size(), base) != 0 ||
        lower(n.substr(base.size(), sep.size())) != sep)
      continue;
    std::string digits = n.substr(base.size() + sep.size());
    if (digits.size() < min_digits || digits.size() > 6 || !all_digits(digits)) continue;
    unsigned k = unsigned(std::stoul(digits));
    if (k == 0) continue;
    out.emplace(k, prefix + n);
  }
  ::closedir(d);
  return out;
}

std::optional<std::uint64_t> file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return std::uint64_t(st.st_size);
}

// The disk number in the last volume's end record (4.3.16: "number of this disk"), which is the
// number of volumes before it.
std::optional<unsigned> last_disk_number(const std::string& path) {
  // Only a regular file: a FIFO or device given as the archive must not be read here first.
  if (!file_size(path)) return std::nullopt;
  try {
    io::FileSource f(path);
    const std::uint64_t size = f.size();
    if (size < zip::kEndLen) return std::nullopt;
    std::uint64_t window = std::min<std::uint64_t>(size, zip::kMaxCommentLen + zip::kEndLen);
    auto tail = f.read_vec(size - window, std::size_t(window));
    for (std::size_t i = tail.size() - zip::kEndLen + 1; i-- > 0;) {
      if (zip::load_u32(&tail[i]) != zip::kEndSig) continue;
      auto e = zip::parse_end({&tail[i], zip::kEndLen});
      if (i + zip::kEndLen + e.comment_len != tail.size()) continue;
      // A ZIP64 set keeps 0xFFFF here and the number in the ZIP64 end record (4.4.1.4).
      if (e.disk == 0xFFFF) return std::nullopt;
      return e.disk;
    }
  } catch (const io::Failure&) {
  }
  return std::nullopt;
}

}  // namespace

std::optional<VolumeSet> find_volume_set(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = file.rfind('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  std::string base = file.substr(0, dot), ext = file.substr(dot + 1);
  const std::string prefix = slash == std::string::npos ? "" : path.substr(0, slash + 1);

  VolumeSet set;
  if (all_digits(ext) && ext.size() >= 3) {
    // 7-Zip numbers its pieces from 001 with at least three digits.
    set.kind = VolumeSet::Kind::numbered;
    set.name = prefix + base;
    auto found = numbered_siblings(dir, prefix, base, ".", 3);
    // A name such as report.2026 is an ordinary file that ends in digits, unless its first piece
    // is there or it is a piece of a ZIP by its name (backup.zip.002 whose .001 is lost).
    const std::string lb = lower(base);
    const bool zip_piece = lb.size() > 4 && lb.compare(lb.size() - 4, 4, ".zip") == 0;
    if (!found.count(1) && !zip_piece) return std::nullopt;
    if (found.empty()) return std::nullopt;
    unsigned last = found.rbegin()->first;
    if (last > kMaxVolumes) return std::nullopt;
    for (unsigned k = 1; k <= last; ++k) {
      auto it = found.find(k);
      set.volumes.push_back({it != found.end() ? it->second : prefix + fmt::format("{}.{:03}", base, k), it != found.end(), 0});
    }
  } else if ((lower(ext) == "zip") || (lower(ext).size() >= 3 && lower(ext)[0] == 'z' && all_digits(ext.substr(1)))) {
    auto found = numbered_siblings(dir, prefix, base, ".z", 2);
    const bool is_zip = lower(ext) == "zip";
    // An ordinary archive, unless its end record says it is the last of several volumes and the
    // others are not here.
    if (is_zip && found.empty() && last_disk_number(path).value_or(0) == 0) return std::nullopt;
    std::string last_path = prefix + base + (is_zip ? "." + ext : ".zip");
    if (!is_zip && !file_size(last_path) && file_size(prefix + base + ".ZIP")) last_path = prefix + base + ".ZIP";
    set.kind = VolumeSet::Kind::pkware;
    set.name = last_path;
    unsigned before = found.empty() ? 0 : found.rbegin()->first;
    if (before > kMaxVolumes) return std::nullopt;
    if (auto d = last_disk_number(last_path); d && *d > before && *d <= kMaxVolumes) before = *d;
    for (unsigned k = 1; k <= before; ++k) {
      auto it = found.find(k);
      set.volumes.push_back({it != found.end() ? it->second : prefix + fmt::format("{}.z{:02}", base, k), it != found.end(), 0});
    }
    set.volumes.push_back({last_path, false, 0});
  } else {
    return std::nullopt;
  }
  for (auto& v : set.volumes) {
    auto s = file_size(v.path);
    v.present = s.has_value();
    v.size = s.value_or(0);
  }
  // Writers make every volume but the last the same size. The most common size among those there
  // is the set's (a volume with junk appended does not make all the others "cut"); between two
  // sizes equally common, the larger, since a cut is the likelier damage.
  std::map<std::uint64_t, unsigned> sizes;
  for (std::size_t i = 0; i + 1 < set.volumes.size(); ++i)
    if (set.volumes[i].present) ++sizes[set.volumes[i].size];
  unsigned best = 0;
  for (const auto& [size, n] : sizes)
    if (n >= best) {
      best = n;
      set.volume_size = size;
    }
  return set;
}

std::unique_ptr<io::VolumeSource> open_volume_set(const VolumeSet& set) {
  std::vector<io::VolumeSource::Part> parts;
  for (std::size_t i = 0; i < set.volumes.size(); ++i) {
    const auto& v = set.volumes[i];
    const bool last = i + 1 == set.volumes.size();
    parts.push_back({v.path, v.present, last ? v.size : std::max(v.size, set.volume_size)});
  }
  // 8.5.3-8.5.4: a split or spanned set's first volume starts with the spanning signature
  // (PK\7\8, or PK00 when the set turned out to need one volume); the directory's offsets count
  // it, but it is no part of any entry, so the joined bytes start after it.
  std::uint64_t skip = 0;
  if (set.kind == VolumeSet::Kind::pkware && !set.volumes.empty() && set.volumes[0].present) {
    io::FileSource first(set.volumes[0].path);
    std::uint8_t sig[4] = {};
    if (first.read_at(0, sig) == 4 && (zip::load_u32(sig) == zip::kDescriptorSig || zip::load_u32(sig) == 0x30304b50))
      skip = 4;
  }
  return std::make_unique<io::VolumeSource>(std::move(parts), skip, set.kind == VolumeSet::Kind::pkware);
}

std::vector<report::Finding> volume_findings(const VolumeSet& set, const io::VolumeSource& src, bool end_found) {
  std::vector<report::Finding> out;
  const std::size_t n = set.volumes.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = set.volumes[i];
    const bool last = i + 1 == n;
    const std::uint64_t at = src.start_of(i);
    if (!v.present) {
      out.push_back(report::make_finding(
          report::Code::volume_missing, std::nullopt, at,
          last ? fmt::format("{}, the last volume of the set, is missing: it holds the central directory", v.path)
          : set.volume_size
              ? fmt::format("{} (volume {} of {}) is missing: its {} bytes are read as zeros, and the entries in them "
                            "are lost",
                            v.path, i + 1, n, set.volume_size)
              : fmt::format("{} (volume {} of {}) is missing", v.path, i + 1, n),
          kSplitSetReaders));
    } else if (!last && v.size < set.volume_size) {
      out.push_back(report::make_finding(
          report::Code::volume_truncated, std::nullopt, at + v.size - (i == 0 ? std::min(v.size, src.skipped()) : 0),
          fmt::format("{} (volume {} of {}) holds {} bytes where the set's other volumes hold {}: it was cut short, and "
                      "its last {} bytes are read as zeros",
                      v.path, i + 1, n, v.size, set.volume_size, set.volume_size - v.size),
          kSplitSetReaders));
    }
  }
  // The last volume ends with the end records; without them it was cut, or (7-Zip's pieces carry
  // no count) pieces after it are missing.
  if (!end_found && n && set.volumes.back().present) {
    const auto& v = set.volumes.back();
    out.push_back(report::make_finding(
        report::Code::volume_truncated, std::nullopt, src.size(),
        set.kind == VolumeSet::Kind::pkware
            ? fmt::format("{}, the last volume, ends without an end record: it was cut short", v.path)
            : fmt::format("{}, the last volume present, ends without an end record: it was cut short, or the "
                          "volumes after it are missing",
                          v.path),
        kSplitSetReaders));
  }
  return out;
}

std::string volume_place(const io::VolumeSource& src, std::uint64_t pos) {
  auto [i, at] = src.locate(std::min(pos, src.size() ? src.size() - 1 : 0));
  if (pos >= src.size() && src.count()) {
    i = src.count() - 1;
    at = pos - src.start_of(i) + (i == 0 ? src.skipped() : 0);
  }
  auto slash = src.part(i).path.rfind('/');
  return fmt::format("{} at offset {}", slash == std::string::npos ? src.part(i).path : src.part(i).path.substr(slash + 1), at);
}

}  // namespace zm::scan

#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "zip/writer.h"

namespace zm::scan {
namespace {

// `head` bytes of another source, then bytes held here.
class SplicedSource final : public io::ByteSource {
 public:
  SplicedSource(io::ByteSource& head, std::uint64_t head_len, std::vector<std::uint8_t> tail)
      : head_(head), head_len_(head_len), tail_(std::move(tail)) {}
  std::uint64_t size() const override { return head_len_ + tail_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    if (offset < head_len_)
      return head_.read_some(offset, buf.first(std::size_t(std::min<std::uint64_t>(buf.size(), head_len_ - offset))));
    if (offset >= size()) return 0;
    std::size_t at = std::size_t(offset - head_len_), n = std::min(buf.size(), tail_.size() - at);
    std::memcpy(buf.data(), tail_.data() + at, n);
    return n;
  }

 private:
  io::ByteSource& head_;
  std::uint64_t head_len_;
  std::vector<std::uint8_t> tail_;
};

}  // namespace

JoinedView joined_view(io::ByteSource& source, const std::set<std::string>* only) {
  JoinedView v;
  if (!source.disks() && !only) {
    v.src = &source;
    return v;
  }
  auto end = locate_end_records(source);
  if (!end) {
    v.why = "the set has no end record";
    return v;
  }
  if (end->cd_size > (256u << 20)) {
    v.why = "the set's central directory is larger than 256 MiB";
    return v;
  }
  auto dir = source.read_vec(end->cd_start, std::size_t(end->cd_size));
  if (dir.size() != end->cd_size) {
    v.why = "the set's central directory cannot be read whole";
    return v;
  }
  // Each record again with its volume and offset made one position (ZIP64 fields where the
  // position needs them), then end records of one volume.
  std::string out;
  std::uint64_t count = 0, kept = 0;
  for (std::size_t p = 0; p < dir.size(); ++count) {
    zip::Cursor c(zip::Bytes(dir).subspan(p));
    zip::CentralDirectoryHeader h;
    try {
      h = zip::parse_central(c);
    } catch (const std::exception&) {
      v.why = fmt::format("directory record {} is malformed", count + 1);
      return v;
    }
    auto zip64_missing = Zip64Missing::none;
    Entry e = entry_from_record(h, &zip64_missing);
    auto pos = source.disk_position(e.disk_start, e.lfh_offset);
    if (zip64_missing != Zip64Missing::none || !pos) {
      v.why = fmt::format("directory record {} points outside the set", count + 1);
      return v;
    }
    zip::EntryRecord r;
    r.name = h.name;
    r.version_made_by = h.version_made_by;
    r.version_needed = h.version_needed;
    r.flags = h.flags;
    r.method = h.method;
    r.mod_time = h.mod_time;
    r.mod_date = h.mod_date;
    r.crc32 = h.crc32;
    r.compressed_size = e.compressed_size;
    r.uncompressed_size = e.uncompressed_size;
    r.local_offset = *pos + end->shift;
    r.internal_attr = h.internal_attr;
    r.external_attr = h.external_attr;
    r.extra = zip::strip_extra({reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()},
                               zip::kZip64ExtraId);
    r.comment = h.comment;
    p += h.record_len();
    if (only && !only->count(h.name)) continue;
    out += zip::central_record_bytes(r);
    ++kept;
  }
  const std::uint64_t cd_size = out.size();
  out += zip::end_records_bytes(kept, end->cd_start, cd_size);
  v.own = std::make_unique<SplicedSource>(source, end->cd_start, std::vector<std::uint8_t>(out.begin(), out.end()));
  v.src = v.own.get();
  return v;
}

}  // namespace zm::scan
