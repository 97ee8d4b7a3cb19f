#include "restore/extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "check/judge.h"
#include "io/failure.h"
#include "io/worker_pool.h"
#include "scan/catalog.h"

namespace zm::restore {

namespace {

// Items that are written: not left out, not DIR itself, not a second name of the folder before.
bool written(const Plan& plan, std::size_t i) {
  const Item& it = plan.items[i];
  return !it.left_out && !it.is_dir_itself() && !(i && plan.same_path(plan.items[i - 1], it));
}

// Every failure here is writing or looking into DIR (ENOSPC, EIO, a folder swapped meanwhile).
[[noreturn]] void fail(const std::string& what) {
  throw io::Failure(io::Fail::cannot_write, what + ": " + std::strerror(errno));
}

std::string leaf(const Item& it) { return std::string(it.leaf()); }

timespec time_of(const Item& it) { return {time_t(it.mtime_s), long(it.mtime_ns)}; }

// The name of the first entry at or under item i: an implied folder speaks for what needs it.
std::string entry_name(const Plan& plan, std::size_t i) {
  for (std::size_t k = i; k < plan.items.size(); ++k)
    if (plan.items[k].entry != kImplied) return plan.name(plan.items[k]);
  return plan.name(plan.items[i]);
}

// One finding about what is in DIR at item i; `st` is what is there.
void target_finding(Targets& t, const Plan& plan, std::size_t i, const struct stat& st, const std::string& shown_dir) {
  const Item& it = plan.items[i];
  const bool link = S_ISLNK(st.st_mode), dir = S_ISDIR(st.st_mode);
  const char* what = link ? "a symbolic link" : dir ? "a directory" : "a file";
  std::string where = shown_dir + "/" + report::printable_name(plan.path(it));
  std::string name = entry_name(plan, i);
  std::string why;
  if (it.kind == Kind::directory)
    why = fmt::format("{} is already there as {}, where '{}' needs a directory; --force replaces it", where, what,
                      report::printable_name(name));
  else if (dir)
    why = fmt::format("{} is already there as a directory, where the {} '{}' goes; restore removes no directory, "
                      "--force or not",
                      where, it.kind == Kind::symlink ? "link" : "file", report::printable_name(name));
  else
    why = fmt::format("{} is already there ({}); it is left as it is (--force replaces it)", where, what);
  t.findings.push_back(report::make_finding(link ? report::Code::restore_through_symlink
                                                 : report::Code::restore_target_exists,
                                            name, std::nullopt, std::move(why)));
  ++(dir && it.kind != Kind::directory ? t.directories : t.conflicts);
}

// The folders of DIR that are ancestors of the current item, each open (nothing followed).
struct DirStack {
  std::vector<std::pair<std::string, Fd>> open;
  int top() const { return open.back().second.get(); }
  void pop_to(std::string_view path) {
    while (open.size() > 1 && !is_ancestor(open.back().first, path)) open.pop_back();
  }
};

}  // namespace

Targets judge_targets(int dir, const std::string& shown_dir, const Plan& plan, bool overwrite) {
  Targets t;
  DirStack at;
  at.open.emplace_back("", Fd(::dup(dir)));
  std::string fresh;  // a folder not in DIR: nothing under it is either
  bool have_fresh = false;
  std::string path;
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    if (!written(plan, i)) continue;
    const Item& it = plan.items[i];
    plan.path_into(it, path);
    if (have_fresh && is_ancestor(fresh, path)) continue;
    have_fresh = false;
    at.pop_to(path);
    struct stat st {};
    if (::fstatat(at.top(), leaf(it).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) fail(fmt::format("{}/{}: cannot look", shown_dir, report::printable_name(path)));
      if (it.kind == Kind::directory) fresh = path, have_fresh = true;
      continue;
    }
    if (it.kind == Kind::directory && S_ISDIR(st.st_mode)) {
      Fd sub(::openat(at.top(), leaf(it).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) fail(fmt::format("{}/{}: cannot open", shown_dir, report::printable_name(path)));
      at.open.emplace_back(path, std::move(sub));
      continue;
    }
    if (it.kind == Kind::directory) fresh = path, have_fresh = true;  // replaced whole with --force
    if (!overwrite || (S_ISDIR(st.st_mode) && it.kind != Kind::directory)) target_finding(t, plan, i, st, shown_dir);
  }
  return t;
}

Staging::Staging(int dir, std::string shown_dir, const Plan& plan)
    : dir_(dir), shown_dir_(std::move(shown_dir)), plan_(plan), state_(plan.items.size()),
      decoded_(plan.items.size()) {
  // A name no entry uses, made with mode 0700: no one else can enter it while the restore runs.
  std::random_device rd;
  for (int tries = 0; tries < 100; ++tries) {
    std::string name = fmt::format(".zipmedic-restore-{}-{:08x}", ::getpid(), rd());
    // Only DIR's own entries can be it, or hold it: the items in folder 0.
    bool used = std::any_of(plan.items.begin(), plan.items.end(),
                            [&](const Item& it) { return it.folder == 0 && it.leaf() == name; });
    if (used) continue;
    if (::mkdirat(dir_, name.c_str(), 0700) == 0) {
      name_ = name;
      stage_ = open_dir_beneath(dir_, name_);
      if (!stage_) fail(fmt::format("{}/{}: cannot open the staging folder", shown_dir_, name_));
      return;
    }
    if (errno != EEXIST) fail(fmt::format("{}: cannot make a staging folder", shown_dir_));
  }
  throw io::Failure(io::Fail::cannot_write, shown_dir_ + ": cannot make a staging folder");
}

Staging::~Staging() {
  if (!name_.empty()) {
    stage_ = Fd();
    remove_tree(dir_, name_);
  }
}

void Staging::write(io::ByteSource& src, unsigned threads, const std::string* password) {
  make_folders();
  write_files(src, threads, password);
  make_links();
}

void Staging::make_folders() {
  std::string path;
  for (std::size_t i = 0; i < plan_.items.size(); ++i) {
    const Item& it = plan_.items[i];
    if (!written(plan_, i) || it.kind != Kind::directory) continue;
    plan_.folder_path_into(it.folder, path);
    Fd parent = open_dir_beneath(stage_.get(), path);
    if (!parent || ::mkdirat(parent.get(), leaf(it).c_str(), 0700) != 0)
      fail(fmt::format("{}: cannot make the folder '{}' in the staging folder", shown_dir_,
                       report::printable_name(plan_.path(it))));
    state_[i] = staged;
  }
}

// Each worker's own decoder state, read cache and write buffer.
struct Staging::Worker {
  explicit Worker(io::ByteSource& src) : cache(src) {}
  codec::Workspace ws;
  io::CachedSource cache;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(1 << 20);
  std::string path;  // of the file being written
};

namespace {

// Writes what the decoder produces to `fd` through the worker's buffer; the first error stops it.
struct FileSink {
  int fd;
  std::vector<std::uint8_t>& buf;
  std::size_t used = 0;
  int error = 0;
  void put(const std::uint8_t* p, std::size_t n) {
    while (n && !error) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) error = w < 0 ? errno : EIO;
      else p += w, n -= std::size_t(w);
    }
  }
  void take(std::span<const std::uint8_t> b) {
    if (used + b.size() > buf.size()) flush();
    if (b.size() >= buf.size()) return put(b.data(), b.size());
    std::memcpy(buf.data() + used, b.data(), b.size());
    used += b.size();
  }
  void flush() {
    put(buf.data(), used);
    used = 0;
  }
};

}  // namespace

struct Staging::Job {
  Staging* st;
  io::ByteSource* src;
  const std::string* password;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::size_t> files;  // indices in the plan
  struct Run {
    Job* job;
    std::size_t from, to;
  };
  std::vector<Run> runs;
  static void run(void* r, unsigned worker);
};

void Staging::Job::run(void* p, unsigned worker) {
  auto* r = static_cast<Run*>(p);
  Job& job = *r->job;
  if (!job.workers[worker]) job.workers[worker] = std::make_unique<Worker>(*job.src);
  for (std::size_t k = r->from; k < r->to; ++k) job.st->write_file(*job.workers[worker], job.files[k], job.password);
}

// One file: created in the staging folder (0600 until it is whole), decoded into it, and given
// its mode and time only when its CRC and size are the directory's.
void Staging::write_file(Worker& w, std::size_t i, const std::string* password) {
  const Item& it = plan_.items[i];
  const Claim& c = plan_.claim(it);
  auto lfh = scan::read_local_header(w.cache, c.lfh_offset, nullptr);
  if (!lfh) return;  // verify says why; the entry is left out
  scan::Entry e = plan_.as_entry(it, c, c.lfh_offset + lfh->header_len());
  std::string& path = w.path;
  plan_.path_into(it, path);
  Fd fd(open_beneath(stage_.get(), path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
  if (!fd) fail(fmt::format("{}: cannot create '{}' in the staging folder", shown_dir_, report::printable_name(path)));
  state_[i] = staged;
  FileSink sink{fd.get(), w.buf};
  auto req = scan::sized_request(e);
  // Where no reader that has the method holds the entry to its claimed size, the readers (and
  // verify) take the data to its stream's end; so does the file written here.
  e.lfh = scan::local_claim(*lfh);
  const bool whole = check::decoded_whole(e);
  if (whole) req.max_output = 0;
  req.sink = [&](std::span<const std::uint8_t> b) { sink.take(b); };
  auto d = scan::decode_data(w.ws, w.cache, req, e, password);
  sink.flush();
  if (sink.error) {
    errno = sink.error;
    fail(fmt::format("{}: writing '{}' failed", shown_dir_, report::printable_name(e.name)));
  }
  const bool ok = d.status == codec::DecodeResult::Status::ok;
  const bool matches = ok && d.crc == c.crc32 && (d.produced == c.uncompressed_size || whole);
  // An encrypted entry's result is handed to verify only when it matches: verify then takes the
  // password as right.
  decoded_[i] = {c.lfh_offset, d.consumed, d.produced, d.crc, ok && (matches || !e.encrypted()), matches};
  if (!matches) return;
  // After the data: a write clears the set-user-ID bit that --preserve-permissions keeps.
  if (::fchmod(fd.get(), it.mode) != 0)
    fail(fmt::format("{}: cannot set the mode of '{}'", shown_dir_, report::printable_name(path)));
  const timespec times[2] = {{0, UTIME_OMIT}, time_of(it)};
  if (it.has_time && ::futimens(fd.get(), times) != 0)
    fail(fmt::format("{}: cannot set the time of '{}'", shown_dir_, report::printable_name(path)));
}

void Staging::write_files(io::ByteSource& src, unsigned threads, const std::string* password) {
  io::WorkerPool pool(threads, io::kEntryBytesInFlight);
  Job job{this, &src, password, {}, {}, {}};
  job.workers.resize(pool.slots());
  for (std::size_t i = 0; i < plan_.items.size(); ++i)
    if (written(plan_, i) && plan_.items[i].kind == Kind::file) job.files.push_back(i);
  // Runs of neighbouring entries (up to 512 KiB of data or 256 entries), as verify cuts them, so
  // that each worker's read cache serves whole runs of small entries.
  std::vector<std::uint64_t> bytes;
  std::size_t from = 0;
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < job.files.size(); ++k) {
    sum += plan_.claim(plan_.items[job.files[k]]).compressed_size;
    if (sum >= (512u << 10) || k + 1 - from >= 256 || k + 1 == job.files.size()) {
      job.runs.push_back({&job, from, k + 1});
      bytes.push_back(sum);
      from = k + 1, sum = 0;
    }
  }
  for (std::size_t r = 0; r < job.runs.size(); ++r) {
    if (pool.failed()) break;
    pool.submit({&Job::run, &job.runs[r], bytes[r]});
  }
  pool.close();  // a task's error (a full disk) is thrown here; the destructor removes the staging folder
}

// Links last, in the staging folder, with targets the plan judged to stay inside DIR.
void Staging::make_links() {
  for (std::size_t i = 0; i < plan_.items.size(); ++i) {
    const Item& it = plan_.items[i];
    if (!written(plan_, i) || it.kind != Kind::symlink || !it.link_decoded) continue;
    Fd parent = open_dir_beneath(stage_.get(), plan_.folder_path(it.folder));
    const std::string name = leaf(it);
    if (!parent || ::symlinkat(it.link_target().c_str(), parent.get(), name.c_str()) != 0)
      fail(fmt::format("{}: cannot make the link '{}' in the staging folder", shown_dir_,
                       report::printable_name(plan_.path(it))));
    state_[i] = staged;
    decoded_[i].ok = decoded_[i].matches = true;
    const timespec times[2] = {{0, UTIME_OMIT}, time_of(it)};
    if (it.has_time) ::utimensat(parent.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

codec::KnownResults Staging::take_known() {
  // Added in offset order (KnownResults keeps them sorted): positions sorted, not copies.
  auto offset = [&](std::uint32_t i) { return decoded_[i].lfh_offset; };
  std::vector<std::uint32_t> files;
  for (std::size_t i = 0; i < plan_.items.size(); ++i)
    if (decoded_[i].ok && plan_.items[i].kind == Kind::file) files.push_back(std::uint32_t(i));
  std::sort(files.begin(), files.end(),
            [&](std::uint32_t a, std::uint32_t b) { return offset(a) < offset(b); });
  auto links = plan_.link_results;
  std::sort(links.begin(), links.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  codec::KnownResults k;
  std::size_t l = 0;
  auto add_links_before = [&](std::uint64_t at) {
    for (; l < links.size() && links[l].first < at; ++l) k.add(links[l].first, links[l].second);
  };
  for (std::uint32_t i : files) {
    add_links_before(offset(i));
    codec::DecodeResult d;
    d.consumed = decoded_[i].consumed, d.produced = decoded_[i].produced, d.crc = decoded_[i].crc;
    k.add(offset(i), d);
  }
  add_links_before(~std::uint64_t(0));
  // Verify runs next, beside what it keeps per entry: 32 bytes an item held twice would be 32 MB
  // of a million-entry restore's peak.
  matched_.resize(decoded_.size());
  for (std::size_t i = 0; i < decoded_.size(); ++i) matched_[i] = decoded_[i].matches;
  std::vector<Decoded>().swap(decoded_);  // `= {}` would keep the capacity
  return k;
}

// What did not verify leaves the staging folder, last first, so that a folder is emptied before it
// is looked at: an entry's folder stays (with a plain mode) while anything accepted is in it.
void Staging::prune(const std::vector<bool>& accepted) {
  for (std::size_t i = plan_.items.size(); i-- > 0;) {
    const Item& it = plan_.items[i];
    if (state_[i] != staged) continue;
    const bool keep = accepted[i] && it.entry != kImplied && (it.kind == Kind::directory || matched_[i]);
    if (keep) continue;
    Fd parent = open_dir_beneath(stage_.get(), plan_.folder_path(it.folder));
    if (!parent) fail(fmt::format("{}: cannot open the staging folder", shown_dir_));
    const bool folder = it.kind == Kind::directory;
    if (::unlinkat(parent.get(), leaf(it).c_str(), folder ? AT_REMOVEDIR : 0) == 0)
      state_[i] = pruned;
    else if (folder && (errno == ENOTEMPTY || errno == EEXIST))
      state_[i] = kept_as_folder;
    else
      fail(fmt::format("{}: cannot remove '{}' from the staging folder", shown_dir_,
                       report::printable_name(plan_.path(it))));
  }
}

namespace {

// renameat2 from the staging folder into DIR, and back when undone.
bool move(int from_dir, const std::string& from, int to_dir, const std::string& to, unsigned flags) {
  return ::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), flags) == 0;
}

}  // namespace

// Walks the plan beside DIR: what DIR lacks is moved in whole (a folder with everything in it),
// a folder DIR has is gone into (its mode and owner untouched), and with --force a file or link
// is swapped with what is there, which goes to the staging folder and is removed with it.
void Staging::move_into_place(bool overwrite) {
  DirStack to, from;
  to.open.emplace_back("", Fd(::dup(dir_)));
  from.open.emplace_back("", Fd(::dup(stage_.get())));
  std::string whole;  // a folder moved in whole: what is under it went with it
  bool have_whole = false;
  std::string path;
  for (std::size_t i = 0; i < plan_.items.size(); ++i) {
    const Item& it = plan_.items[i];
    if (state_[i] != staged && state_[i] != kept_as_folder) continue;
    plan_.path_into(it, path);
    if (have_whole && is_ancestor(whole, path)) continue;
    have_whole = false;
    to.pop_to(path), from.pop_to(path);
    const std::string name = leaf(it);
    const std::string where = shown_dir_ + "/" + report::printable_name(path);
    struct stat st {};
    const bool there = ::fstatat(to.top(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!there && errno != ENOENT) fail(where + ": cannot look");
    const bool folder = it.kind == Kind::directory;
    if (there && folder && S_ISDIR(st.st_mode)) {
      Fd t(::openat(to.top(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      Fd f(::openat(from.top(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!t || !f) fail(where + ": changed while the restore ran");
      to.open.emplace_back(path, std::move(t));
      from.open.emplace_back(path, std::move(f));
      continue;
    }
    if (there && (!overwrite || (S_ISDIR(st.st_mode) && !folder))) {
      errno = EEXIST;
      fail(where + ": appeared while the restore ran");
    }
    if (!move(from.top(), name, to.top(), name, there ? RENAME_EXCHANGE : RENAME_NOREPLACE))
      fail(where + ": cannot move it into place");
    journal_.push_back({i, there});
    if (folder) whole = path, have_whole = true;
  }
}

// Each move undone, last first, by descriptors opened beneath DIR and the staging folder.
void Staging::roll_back() noexcept {
  for (auto s = journal_.rbegin(); s != journal_.rend(); ++s) {
    const Item& it = plan_.items[s->item];
    const std::string parent = plan_.folder_path(it.folder);
    Fd to = open_dir_beneath(dir_, parent), from = open_dir_beneath(stage_.get(), parent);
    if (!to || !from) continue;
    const std::string name = leaf(it);
    (void)move(to.get(), name, from.get(), name, s->exchanged ? RENAME_EXCHANGE : RENAME_NOREPLACE);
  }
  journal_.clear();
}

// The folders this restore made get their modes and times last, deepest first (a folder's time
// changes as things are put in it); folders that were in DIR are left as they are.
void Staging::finish_folders(const std::vector<bool>& accepted) {
  std::vector<bool> moved(plan_.items.size()), made(plan_.items.size());
  for (const auto& s : journal_) moved[s.item] = true;
  std::string whole, path;
  bool have_whole = false;
  for (std::size_t i = 0; i < plan_.items.size(); ++i) {
    const Item& it = plan_.items[i];
    if (have_whole) plan_.path_into(it, path);
    if (have_whole && is_ancestor(whole, path))
      made[i] = state_[i] == staged || state_[i] == kept_as_folder;
    else
      have_whole = false;
    if (moved[i]) {
      made[i] = true;
      if (it.kind == Kind::directory) plan_.path_into(it, whole), have_whole = true;
    }
  }
  for (std::size_t i = plan_.items.size(); i-- > 0;) {
    const Item& it = plan_.items[i];
    if (!made[i] || it.kind != Kind::directory) continue;
    plan_.path_into(it, path);
    Fd d = open_dir_beneath(dir_, path);
    if (!d) fail(shown_dir_ + "/" + report::printable_name(path) + ": changed while the restore ran");
    const bool own = accepted[i] && it.entry != kImplied && state_[i] == staged;
    if (::fchmod(d.get(), own ? it.mode : 0755) != 0)
      fail(fmt::format("{}/{}: cannot set its mode", shown_dir_, report::printable_name(path)));
    const timespec times[2] = {{0, UTIME_OMIT}, time_of(it)};
    if (own && it.has_time) ::futimens(d.get(), times);
  }
}

void Staging::commit(const std::vector<bool>& accepted, bool overwrite) {
  prune(accepted);
  try {
    move_into_place(overwrite);
  } catch (...) {
    roll_back();
    throw;
  }
  finish_folders(accepted);
}

}  // namespace zm::restore
