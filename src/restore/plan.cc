#include "restore/plan.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>
#include <unordered_map>

#include "check/judge.h"
#include "scan/central_directory.h"
#include "zip/records.h"

namespace zm::restore {

using report::Code;

namespace {

// The longest component and path Linux takes (NAME_MAX, PATH_MAX less its NUL).
constexpr std::size_t kNameMax = 255, kPathMax = 4095;
constexpr std::uint16_t kExtendedTimeId = 0x5455;  // Info-ZIP's extended timestamp

// The path restore writes for a name: empty and "." components dropped ("./a", "d//a", "d/./a"
// and "a/" are "a", "d/a", "d/a", "a"). A name it must not write says why.
std::string normalise(const std::string& name, std::string& path) {
  path.clear();
  if (name.find('\0') != std::string::npos) return "the name holds a NUL byte";
  if (!name.empty() && name[0] == '/') return "the name is absolute";
  std::size_t i = 0;
  while (i <= name.size()) {
    std::size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    std::string_view c(name.data() + i, j - i);
    if (c == "..") return "the name has a '..' component";
    if (c.size() > kNameMax)
      return fmt::format("a component of the name is {} bytes long; Linux filesystems take at most {}", c.size(),
                         kNameMax);
    if (!c.empty() && c != ".") {
      if (!path.empty()) path += '/';
      path.append(c);
    }
    i = j + 1;
  }
  if (path.size() > kPathMax)
    return fmt::format("the path is {} bytes long; Linux takes at most {}", path.size(), kPathMax);
  return {};
}

// The modification time: NTFS (0x000a, 7-Zip and Windows), else Info-ZIP's extended timestamp
// (0x5455), else the DOS time, which is the writer's local time (4.4.6).
void set_time(const scan::Entry& e, Item& it) {
  const auto& x = e.cd_extra();
  zip::Bytes extra{reinterpret_cast<const std::uint8_t*>(x.data()), x.size()};
  if (auto t = zip::ntfs_modified(extra)) {
    it.mtime_s = t->seconds, it.mtime_ns = t->nanoseconds, it.has_time = true;
    return;
  }
  for (zip::Bytes f : zip::extra_fields(extra, kExtendedTimeId))
    if (f.size() >= 5 && (f[0] & 1)) {
      it.mtime_s = std::int32_t(zip::load_u32(&f[1])), it.has_time = true;
      return;
    }
  if (!e.mod_date) return;
  std::tm tm{};
  tm.tm_year = (e.mod_date >> 9) + 80, tm.tm_mon = ((e.mod_date >> 5) & 15) - 1, tm.tm_mday = e.mod_date & 31;
  tm.tm_hour = e.mod_time >> 11, tm.tm_min = (e.mod_time >> 5) & 63, tm.tm_sec = (e.mod_time & 31) * 2;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t != std::time_t(-1)) it.mtime_s = t, it.has_time = true;
}

// Kind and mode from the directory record's attributes (4.4.15): the Unix mode of a Unix host,
// else the MS-DOS directory bit. The bits that make a file run as its owner or group, the sticky
// bit and write for everyone are dropped unless --preserve-permissions (unzip drops the first
// two). Devices, FIFOs and sockets are never made.
std::string set_kind_and_mode(const scan::Entry& e, const PlanOptions& opt, Item& it) {
  const bool unix_host = (e.version_made_by >> 8) == 3;
  const std::uint32_t um = e.unix_mode(), type = um & S_IFMT;
  it.named_directory = e.is_directory();
  if (it.named_directory || (unix_host && type == S_IFDIR) || (!unix_host && (e.external_attr & 0x10)))
    it.kind = Kind::directory;
  else if (unix_host && type == S_IFLNK)
    it.kind = Kind::symlink;
  else if (unix_host && type && type != S_IFREG)
    return fmt::format("its Unix mode {:06o} makes it a device node, FIFO or socket, which restore never creates",
                       um);
  if (it.kind == Kind::symlink && (e.uncompressed_size == 0 || e.uncompressed_size > kPathMax))
    return fmt::format("it is a symbolic link whose target would be {} bytes long", e.uncompressed_size);
  it.mode = unix_host && um ? mode_t(um & 07777) : it.kind == Kind::directory ? 0755 : 0644;
  constexpr mode_t kHurts = S_ISUID | S_ISGID | S_ISVTX | S_IWOTH;
  if (!opt.preserve_permissions && it.kind != Kind::symlink && (it.mode & kHurts)) {
    it.mode &= ~kHurts;
    it.stripped = true;
  }
  if (it.is_dir_itself() && it.kind != Kind::directory) return "its name is the target directory itself";
  return {};
}

}  // namespace

scan::Entry Plan::as_entry(const Item& it, const Claim& c, std::uint64_t data_offset) const {
  scan::Entry e;
  e.name = name(it);
  e.flags = c.flags, e.method = c.method, e.mod_time = c.mod_time, e.crc32 = c.crc32;
  e.compressed_size = c.compressed_size, e.uncompressed_size = c.uncompressed_size;
  e.lfh_offset = c.lfh_offset, e.data_offset = data_offset;
  if (it.rare) e.extras = it.rare->extras;
  return e;
}

void Plan::folder_path_into(std::uint32_t folder, std::string& out) const {
  // Two walks up, the second filling from the end: no list of ancestors (workers call this too).
  std::size_t n = 0;
  for (std::uint32_t f = folder; f; f = folders[f].parent) n += folders[f].leaf_len + 1u;
  out.resize(n ? n - 1 : 0);
  std::size_t at = out.size();
  for (std::uint32_t f = folder; f; f = folders[f].parent) {
    at -= folders[f].leaf_len;
    std::memcpy(out.data() + at, folders[f].leaf, folders[f].leaf_len);
    if (at) out[--at] = '/';
  }
}

void Plan::path_into(const Item& it, std::string& out) const {
  folder_path_into(it.folder, out);
  if (it.is_dir_itself()) return;
  if (!out.empty()) out += '/';
  out.append(it.leaf());
}

std::string Plan::path(const Item& it) const {
  std::string p;
  path_into(it, p);
  return p;
}

std::string Plan::name(const Item& it) const {
  if (it.rare && !it.rare->other_name.empty()) return it.rare->other_name;
  std::string n = path(it);
  if (it.named_directory) n += '/';
  return n;
}

std::string_view PathArena::keep(std::string_view s) {
  if (s.empty()) return {};
  // A moved-from arena has no blocks; a component longer than a block (none is: kNameMax) fills
  // its own.
  if (blocks_.empty() || used_ > kBlock || s.size() > kBlock - used_) {
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(std::max(kBlock, s.size())));
    used_ = 0;
  }
  char* at = blocks_.back().get() + used_;
  std::memcpy(at, s.data(), s.size());
  used_ += s.size();
  return {at, s.size()};
}

bool path_less(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    auto rank = [](char c) { return c == '/' ? 0 : unsigned(static_cast<unsigned char>(c)) + 1; };
    return rank(a[i]) < rank(b[i]);
  }
  return a.size() < b.size();
}

bool is_ancestor(std::string_view a, std::string_view b) {
  if (a.empty()) return !b.empty();
  return b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '/';
}

namespace {

class Planner {
 public:
  Planner(io::ByteSource& src, const PlanOptions& opt) : src_(src), opt_(opt), matched_(opt.patterns.size()) {}
  void take(scan::Entry& e, std::size_t index);
  // As many extents as the end records promise, up to what the directory's size can hold (a record
  // is at least 46 bytes, 4.3.12): a vector that doubles holds them twice at its last step.
  void expect(const scan::EndRecords& end) {
    const auto n = std::min<std::uint64_t>({end.entries, end.cd_size / 46, src_.size() / 46});
    extents_.reserve(n);
    plan.claims.reserve(n);  // pages that no selected entry fills are never touched
  }
  void arrange();
  void check_overlaps();
  void decode_links();
  void note_unmatched();
  Plan plan;

 private:
  bool selected(const std::string& name);
  void set_path(Item& it);
  std::uint32_t folder_of(std::string_view dir);
  std::uint32_t child_folder(std::uint32_t parent, std::string_view name);
  void problem(Item& it, Code code, std::string why);
  void place(Item it, std::deque<Item>& out, std::vector<std::size_t>& chain);
  std::string link_problem(const Item& it, const std::set<std::string>& links) const;

  io::ByteSource& src_;
  const PlanOptions& opt_;
  std::vector<bool> matched_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents_;  // every record's header and data
  std::string path_;  // normalise()'s, before the arena keeps its last component
  // Folders by their parent and last component, while the directory is read; the last folder
  // looked up by path, since neighbouring entries mostly share it or part of it.
  struct FolderKey {
    std::uint32_t parent;
    std::string_view name;
    bool operator==(const FolderKey&) const = default;
  };
  struct FolderHash {
    std::size_t operator()(const FolderKey& k) const {
      return std::hash<std::string_view>()(k.name) ^ (std::size_t(k.parent) * 0x9e3779b97f4a7c15ull);
    }
  };
  std::unordered_map<FolderKey, std::uint32_t, FolderHash> folder_ids_;
  std::string last_dir_;
  std::vector<std::pair<std::size_t, std::uint32_t>> last_ends_;  // its components: where each ends, its folder
  std::vector<std::uint32_t> up_;  // place()'s
};

std::uint32_t Planner::child_folder(std::uint32_t parent, std::string_view name) {
  if (auto f = folder_ids_.find({parent, name}); f != folder_ids_.end()) return f->second;
  // FolderOrder numbers each folder twice in 32 bits. So many folders would not fit in memory
  // anyway; the plan is refused (blocked, nothing written), the paths after it wrong but unused.
  if (plan.folders.size() >= kImplied / 2) {
    plan.blocked = "refused: the central directory names more folders than a restore can plan; nothing was written";
    return parent;
  }
  const std::string_view kept = plan.paths.keep(name);
  const auto id = std::uint32_t(plan.folders.size());
  plan.folders.push_back({kept.data(), parent, ComponentLength(kept.size()),
                          std::uint16_t(plan.folders[parent].depth + 1)});
  folder_ids_.emplace(FolderKey{parent, kept}, id);
  return id;
}

std::uint32_t Planner::folder_of(std::string_view dir) {
  if (dir.empty()) return 0;
  if (!last_ends_.empty() && dir == last_dir_) return last_ends_.back().second;
  // The folders it shares with the last one looked up are not looked up again.
  const auto m = std::size_t(std::mismatch(dir.begin(), dir.end(), last_dir_.begin(), last_dir_.end()).first - dir.begin());
  std::size_t same = 0;
  while (same < last_ends_.size() && last_ends_[same].first <= m &&
         (last_ends_[same].first == dir.size() || dir[last_ends_[same].first] == '/'))
    ++same;
  last_ends_.resize(same);
  std::uint32_t f = same ? last_ends_.back().second : 0;
  for (std::size_t i = same ? last_ends_.back().first + 1 : 0; i <= dir.size();) {
    const std::size_t j = std::min(dir.find('/', i), dir.size());
    f = child_folder(f, dir.substr(i, j - i));
    last_ends_.emplace_back(j, f);
    i = j + 1;
  }
  last_dir_.assign(dir);
  return f;
}

// The normalised path (path_) as the item's folder and last component.
void Planner::set_path(Item& it) {
  const std::size_t slash = path_.rfind('/');
  const std::string_view p(path_);
  const std::string_view leaf = slash == std::string::npos ? p : p.substr(slash + 1);
  it.folder = folder_of(slash == std::string::npos ? std::string_view() : p.substr(0, slash));
  const std::string_view kept = plan.paths.keep(leaf);
  it.leaf_ = kept.data(), it.leaf_len = ComponentLength(kept.size());
}

void Planner::note_unmatched() {
  for (std::size_t i = 0; i < opt_.patterns.size() && !plan.unmatched; ++i)
    if (!matched_[i]) plan.unmatched = opt_.patterns[i];
}

bool Planner::selected(const std::string& name) {
  bool take = opt_.patterns.empty();
  for (std::size_t i = 0; i < opt_.patterns.size(); ++i)
    if (pattern_matches(opt_.patterns[i], name)) take = matched_[i] = true;
  for (const auto& p : opt_.excludes) take = take && !exclude_matches(p, name);
  return take;
}

void Planner::problem(Item& it, Code code, std::string why) {
  if (!it.left_out) ++plan.problems;
  it.left_out = true;
  plan.findings.push_back(report::make_finding(code, plan.name(it), plan.claim(it).lfh_offset, std::move(why)));
}

void Planner::take(scan::Entry& e, std::size_t index) {
  // The local header and its data lie at least 30 bytes plus the compressed size on from its offset.
  extents_.emplace_back(e.lfh_offset, e.lfh_offset + zip::kLocalHeaderLen + e.compressed_size);
  if (index >= kImplied) {
    plan.blocked = "refused: the central directory holds more entries than a restore can plan; nothing was written";
    return;
  }
  if (!selected(e.name)) {
    ++plan.not_selected;
    return;
  }
  Item it;
  it.entry = std::uint32_t(index);
  it.claim = std::uint32_t(plan.claims.size());
  plan.claims.push_back({e.lfh_offset, e.compressed_size, e.uncompressed_size, e.crc32, e.method, e.flags, e.mod_time});
  if (e.encrypted()) it.more().extras = e.extras;
  std::string why = normalise(e.name, path_);
  if (why.empty()) set_path(it);
  if (why.empty()) why = set_kind_and_mode(e, opt_, it);
  it.nameless = !why.empty() && it.is_dir_itself();
  if (plan.name(it) != e.name) it.more().other_name = e.name;
  set_time(e, it);
  if (!why.empty()) problem(it, Code::restore_unwritable, "restore cannot write it safely: " + why);
  plan.items.push_back(std::move(it));
}

}  // namespace

namespace {

// The order of paths component by component ("a" < "a/b" < "a-b"), told from the folders' tree
// rather than from whole paths: the folders are numbered as a walk through the tree meets them,
// going in (enter) and coming out (leave), each folder's subfolders in name order. An item whose
// path is a folder stands where that folder is entered; any other item stands among its folder's
// subfolders by name, just before the first whose name follows its own (or where its folder is
// left). Two items of different folders never share a place.
class FolderOrder {
 public:
  explicit FolderOrder(const std::vector<Folder>& folders) : folders_(folders) {
    const std::size_t n = folders.size();
    kids_.resize(n ? n - 1 : 0);
    for (std::size_t f = 1; f < n; ++f) kids_[f - 1] = std::uint32_t(f);
    std::sort(kids_.begin(), kids_.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (folders[a].parent != folders[b].parent) return folders[a].parent < folders[b].parent;
      return path_less(folders[a].name(), folders[b].name());
    });
    first_.assign(n + 1, 0);
    for (std::uint32_t k : kids_) ++first_[folders[k].parent + 1];
    for (std::size_t f = 0; f < n; ++f) first_[f + 1] += first_[f];
    enter_.resize(n), leave_.resize(n);
    std::uint32_t at = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> walk{{0, first_[0]}};  // folder, next child
    if (n) enter_[0] = at++;
    while (!walk.empty()) {
      auto& [f, next] = walk.back();
      if (next == first_[f + 1]) {
        leave_[f] = at++;
        walk.pop_back();
        continue;
      }
      const std::uint32_t k = kids_[next++];
      enter_[k] = at++;
      walk.emplace_back(k, first_[k]);
    }
  }
  // (place, 0) for an item among its folder's subfolders, (place, 1) for an item that is a folder.
  std::pair<std::uint32_t, bool> place_of(const Item& it) const {
    if (it.is_dir_itself()) return {enter_[0], true};
    const auto b = kids_.begin() + first_[it.folder], e = kids_.begin() + first_[it.folder + 1];
    const auto k = std::lower_bound(b, e, it.leaf(),
                                    [&](std::uint32_t f, std::string_view s) { return path_less(folders_[f].name(), s); });
    if (k != e && folders_[*k].name() == it.leaf()) return {enter_[*k], true};
    return {k != e ? enter_[*k] : leave_[it.folder], false};
  }

 private:
  const std::vector<Folder>& folders_;
  std::vector<std::uint32_t> kids_;  // every folder but DIR, by parent, then by name
  std::vector<std::uint32_t> first_;  // where a folder's subfolders begin in kids_
  std::vector<std::uint32_t> enter_, leave_;
};

// Puts `it` after its folders (made implied when no entry names them), and says what collides:
// two entries on one path (unless both are folders), a file or link that a later entry needs as
// a folder. `chain` holds the positions in `out` of the current item's ancestors.
void Planner::place(Item it, std::deque<Item>& out, std::vector<std::size_t>& chain) {
  if (it.nameless) {  // its problem is said; it sorts first (path ""), apart from the tree
    out.push_back(std::move(it));
    return;
  }
  // The folders `it` lies in, DIR first: up[d] is the one d components deep.
  std::vector<std::uint32_t>& up = up_;
  up.assign(plan.folders[it.folder].depth + 1u, 0);
  for (std::uint32_t f = it.folder; f; f = plan.folders[f].parent) up[plan.folders[f].depth] = f;
  auto depth_of = [&](const Item& x) { return x.is_dir_itself() ? 0u : plan.folders[x.folder].depth + 1u; };
  // An item is an ancestor of `it` when its path is one of those folders (DIR itself included).
  auto holds_it = [&](const Item& x) {
    if (x.is_dir_itself()) return !it.is_dir_itself();
    const unsigned d = depth_of(x);
    return d < up.size() && up[d - 1] == x.folder && plan.folders[up[d]].name() == x.leaf();
  };
  while (!chain.empty() && !holds_it(out[chain.back()])) chain.pop_back();
  if (!out.empty() && !out.back().nameless && plan.same_path(out.back(), it) &&
      !(it.kind == Kind::directory && out.back().kind == Kind::directory)) {
    std::string why = fmt::format("'{}' and '{}' are one path in the target directory; a restore would write one over "
                                  "the other",
                                  report::printable_name(plan.name(out.back())), report::printable_name(plan.name(it)));
    if (out.back().entry != kImplied) problem(out.back(), Code::duplicate_name, why);
    problem(it, Code::duplicate_name, why);
  }
  for (std::size_t k : chain) {
    Item& above = out[k];
    if (above.kind == Kind::directory) continue;
    if (above.kind == Kind::symlink) {
      plan.findings.push_back(report::make_finding(
          Code::restore_through_symlink, plan.name(it), plan.claim(it).lfh_offset,
          fmt::format("'{}' would be written through '{}', a symbolic link the archive itself makes; the archive is "
                      "refused whole",
                      report::printable_name(plan.name(it)), report::printable_name(plan.name(above)))));
      plan.blocked = "refused: an entry would be written through a symbolic link that the archive itself makes; "
                     "nothing was written";
    } else {
      problem(it, Code::restore_unwritable,
              fmt::format("restore cannot write it: '{}' is a file, which it needs as a folder",
                          report::printable_name(plan.name(above))));
    }
    break;
  }
  // Folders below the nearest ancestor already placed are made here.
  const unsigned have = chain.empty() ? 0 : depth_of(out[chain.back()]);
  for (std::size_t d = have + 1; d < up.size(); ++d) {
    Item dir;
    dir.folder = up[d - 1];
    dir.leaf_ = plan.folders[up[d]].leaf, dir.leaf_len = plan.folders[up[d]].leaf_len;
    dir.kind = Kind::directory, dir.named_directory = true, dir.mode = 0755;
    chain.push_back(out.size());
    out.push_back(std::move(dir));
  }
  chain.push_back(out.size());
  out.push_back(std::move(it));
}

void Planner::arrange() {
  std::unordered_map<FolderKey, std::uint32_t, FolderHash>().swap(folder_ids_);
  auto items = std::move(plan.items);
  // Items came in directory order, one per entry: the entry number settles a tie as a stable sort
  // would. Items of one folder compare by their last components; others by where they fall in
  // the folders' tree (FolderOrder).
  // Each item's place is found once; the items are then put in order by following the cycles
  // of the permutation, so that they never stand in memory twice.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order(items.size());
  {
    const FolderOrder folders(plan.folders);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto [place, is_folder] = folders.place_of(items[i]);
      order[i] = {(std::uint64_t(place) << 1) | is_folder, std::uint32_t(i)};
    }
  }
  std::sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    const Item &a = items[x.second], &b = items[y.second];  // one folder
    if (a.leaf() != b.leaf()) return path_less(a.leaf(), b.leaf());
    return a.entry < b.entry;
  });
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i].second == kImplied || order[i].second == i) continue;
    Item held = std::move(items[i]);
    std::size_t j = i;
    for (;;) {
      const std::size_t from = order[j].second;
      order[j].second = kImplied;  // done
      if (from == i) {
        items[j] = std::move(held);
        break;
      }
      items[j] = std::move(items[from]);
      j = from;
    }
  }
  std::vector<std::pair<std::uint64_t, std::uint32_t>>().swap(order);
  std::deque<Item> out;
  std::vector<std::size_t> chain;
  for (; !items.empty(); items.pop_front()) place(std::move(items.front()), out, chain);
  plan.items = std::move(out);
  std::vector<std::uint32_t>().swap(up_);
  // What lies under an entry left out is left out with it.
  std::string out_at, at;
  bool have_out = false;
  for (auto& it : plan.items) {
    if (have_out) {
      plan.path_into(it, at);
      if (is_ancestor(out_at, at)) {
        it.left_out = true;
        continue;
      }
      // Sorted: once past the path and all under it, nothing later is under it. A second folder
      // on the path itself (not made: written() skips it) is not past it.
      have_out = at == out_at;
    }
    if (it.left_out && !it.nameless) plan.path_into(it, out_at), have_out = true;
  }
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    const Item& it = plan.items[i];
    bool alias = i && plan.same_path(plan.items[i - 1], it);  // a second name of a folder
    if (it.left_out || alias || it.is_dir_itself()) continue;
    ++plan.inodes;
    if (it.kind == Kind::file) plan.bytes += plan.claim(it).uncompressed_size;
    plan.stripped += it.stripped;
  }
}

// Records whose local headers and data share bytes (4.3.6 places each entry apart): one entry of
// 1 GiB behind N records would otherwise be decoded and written N times.
void Planner::check_overlaps() {
  std::sort(extents_.begin(), extents_.end());
  for (std::size_t i = 1; i < extents_.size(); ++i)
    if (extents_[i].first < extents_[i - 1].second) {
      plan.blocked = fmt::format("refused: the directory records of two entries point into the same bytes (local "
                                 "headers at offsets {} and {}); nothing was written",
                                 extents_[i - 1].first, extents_[i].first);
      return;
    }
  std::vector<std::pair<std::uint64_t, std::uint64_t>>().swap(extents_);  // `= {}` would keep the capacity
}

// A link's target must stay inside DIR read as written, and pass through no link the archive
// makes (a link to "." followed by ".." would climb out).
std::string Planner::link_problem(const Item& it, const std::set<std::string>& links) const {
  const std::string& t = it.link_target();
  if (t.find('\0') != std::string::npos) return "its target holds a NUL byte";
  if (t.empty() || t[0] == '/') return fmt::format("its target '{}' is absolute", report::printable_name(t));
  std::vector<std::string> at;
  const std::string path = plan.path(it);
  for (std::size_t i = 0, j = path.find('/'); j != std::string::npos; i = j + 1, j = path.find('/', i))
    at.emplace_back(path.substr(i, j - i));
  std::string so_far;
  for (std::size_t i = 0; i <= t.size();) {
    std::size_t j = std::min(t.find('/', i), t.size());
    std::string c = t.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (at.empty()) return fmt::format("its target '{}' leads out of the target directory", report::printable_name(t));
      at.pop_back();
    } else {
      at.push_back(c);
    }
    so_far.clear();
    for (const auto& a : at) so_far += (so_far.empty() ? "" : "/") + a;
    if (i <= t.size() && links.count(so_far))
      return fmt::format("its target '{}' goes through '{}', a link the archive makes", report::printable_name(t),
                         report::printable_name(so_far));
  }
  return {};
}

// Links' targets are decoded now (they are small), so that they are judged before anything is
// written; verify is handed the results and does not decode them again.
void Planner::decode_links() {
  std::set<std::string> links;
  for (const auto& it : plan.items)
    if (it.kind == Kind::symlink) links.emplace(plan.path(it));
  if (links.empty()) return;
  codec::Workspace ws;
  for (auto& it : plan.items) {
    if (it.kind != Kind::symlink || it.left_out) continue;
    const Claim& c = plan.claim(it);
    auto lfh = scan::read_local_header(src_, c.lfh_offset, nullptr);
    if (!lfh) continue;  // verify says why; the link is never made
    scan::Entry e = plan.as_entry(it, c, c.lfh_offset + lfh->header_len());
    auto req = scan::sized_request(e);
    // As for a file (Staging::write_file): where no reader that has the method holds the entry
    // to its claimed size, the target is the whole stream, which may then be longer than Linux takes.
    e.lfh = scan::local_claim(*lfh);
    const bool whole = check::decoded_whole(e);
    if (whole) req.max_output = kPathMax + 1;  // a longer target is refused: no need to decode on
    std::string target;
    req.sink = [&](std::span<const std::uint8_t> b) {
      if (target.size() <= kPathMax) target.append(reinterpret_cast<const char*>(b.data()), b.size());
    };
    auto d = scan::decode_data(ws, src_, req, e, opt_.password);
    const bool too_long = whole && d.produced > kPathMax;
    if (!too_long &&
        (d.status != codec::DecodeResult::Status::ok || d.crc != c.crc32 || (d.produced != c.uncompressed_size && !whole)))
      continue;
    if (too_long || d.produced == 0) {
      problem(it, Code::restore_unwritable,
              too_long ? fmt::format("restore will not make this link: its target, read to the end of its data, is "
                                     "longer than the {} bytes Linux takes",
                                     kPathMax)
                       : std::string("restore will not make this link: its target, read to the end of its data, is "
                                     "empty"));
      continue;
    }
    it.more().link_target = std::move(target);
    it.link_decoded = true;
    plan.link_results.emplace_back(c.lfh_offset, d);
    if (auto why = link_problem(it, links); !why.empty())
      problem(it, Code::restore_unwritable, "restore will not make this link: " + why);
  }
}

}  // namespace

Plan make_plan(io::ByteSource& src, const scan::EndRecords& end, const PlanOptions& opt) {
  Planner p(src, opt);
  p.expect(end);
  scan::DirectoryReader rd(src, end);
  std::vector<scan::Entry> batch;
  std::size_t index = 0;
  while (rd.next(4096, batch))
    for (auto& e : batch) p.take(e, index++);
  p.plan.readable = rd.readable();
  p.plan.entries = index;
  p.note_unmatched();
  p.check_overlaps();
  p.arrange();
  p.decode_links();
  return std::move(p.plan);
}

}  // namespace zm::restore
