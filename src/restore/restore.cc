#include "restore/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "check/select.h"
#include "check/verifier.h"
#include "io/failure.h"
#include "restore/beneath.h"
#include "restore/extract.h"
#include "scan/end_records.h"

namespace zm::restore {
namespace fs = std::filesystem;

namespace {

void refuse(RestoreResult& res, std::string message) {
  res.outcome = RestoreResult::Outcome::refused;
  res.message = std::move(message);
}

// The whole archive verified, with the findings its bytes cannot show (a split set's volumes) and
// the plan's; `known` holds what the restore decoded already.
check::Verification verify(io::ByteSource& src, const RestoreRequest& req, const std::string& shown, const Plan& plan,
                           RestoreResult& res, const codec::KnownResults* known) {
  // Entries are kept only when there is no directory to read them back from (the plan's). With
  // PATTERN or --exclude only the selected entries' data is decoded (it is all the restore
  // writes, and over HTTP all it downloads); the structure is still checked in full.
  const check::EntrySelection select{req.patterns, req.excludes};
  auto v = check::verify_archive(src, shown,
                                 {.threads = req.threads, .known = known, .password = req.password,
                                  .keep_entries = !plan.readable,
                                  .select = select.everything() ? nullptr : &select});
  res.report = std::move(v.report);
  res.report.command = "restore";
  res.report.findings.insert(res.report.findings.begin(), req.findings.begin(), req.findings.end());
  for (const auto& f : plan.findings) {
    bool said = false;
    for (const auto& g : res.report.findings) said = said || (g.code == f.code && g.entry == f.entry);
    if (!said) res.report.findings.push_back(f);
  }
  res.report.decide_verdict();
  return v;
}

// Which directory entries verify accepted, in directory order: the entry verified and no error
// finding names it (an unsafe path, a duplicate name). Read from the report's rows, which a
// verification that keeps no entries reads back from the directory (a million entries).
std::vector<bool> accepted_entries(const RestoreResult& res) {
  std::set<std::string> flagged;
  for (const auto& f : res.report.findings)
    if (f.severity == report::Severity::error && f.entry) flagged.insert(*f.entry);
  std::vector<bool> ok;
  ok.reserve(res.report.row_count());
  res.report.for_each_row(
      [&](const report::EntryRow& r) { ok.push_back(r.status == report::EntryStatus::ok && !flagged.count(r.name)); });
  return ok;
}

// The planned items verify accepted; implied folders go with what needs them.
std::vector<bool> accepted_items(const Plan& plan, const RestoreResult& res) {
  const auto entries = accepted_entries(res);
  std::vector<bool> ok(plan.items.size());
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    const Item& it = plan.items[i];
    if (!it.left_out) ok[i] = it.entry == kImplied || (it.entry < entries.size() && entries[it.entry]);
  }
  return ok;
}

std::optional<std::string> unverified_refusal(const RestoreRequest& req, const check::Verification& v,
                                              std::size_t verified, const RestoreResult& res) {
  if (res.report.verdict != report::Verdict::ok && !req.partial) {
    auto errors = res.report.count(report::Severity::error);
    return fmt::format("refused: verify found {} {}, nothing was written; --partial restores the {} that verified "
                       "and reports the rest",
                       errors, errors == 1 ? "error" : "errors",
                       verified == 1 ? "1 entry" : fmt::format("{} entries", verified));
  }
  if (!v.from_directory)
    return "refused: the archive has no readable central directory; run zipmedic repair first, then restore the "
           "repaired archive";
  return std::nullopt;
}

// Free bytes and inodes where DIR is, or would be made.
struct Room {
  std::uint64_t bytes = 0, inodes = 0;
  bool counts_inodes = false;  // some filesystems (btrfs) report no inode count
};
Room room_at(const std::string& dir) {
  fs::path p = fs::absolute(dir);
  while (!p.empty() && !fs::exists(p)) p = p.parent_path();
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) throw io::Failure(io::Fail::resource, dir + ": cannot query free space: " + std::strerror(errno));
  return {std::uint64_t(st.f_bavail) * st.f_frsize, std::uint64_t(st.f_favail), st.f_files != 0};
}

std::optional<std::string> no_room(const RestoreRequest& req, const Plan& plan, RestoreResult& res) {
  const Room room = room_at(req.directory);
  // Each file may round up to a block; a small margin per entry keeps the estimate honest.
  res.bytes_needed = plan.bytes + plan.inodes * 4096;
  res.bytes_available = room.bytes;
  res.inodes_needed = plan.inodes + 1;  // and the staging folder
  res.inodes_available = room.inodes;
  if (res.bytes_needed > room.bytes)
    return fmt::format("{}: not enough space: the restore needs {} bytes, {} are available", req.directory,
                       res.bytes_needed, room.bytes);
  if (room.counts_inodes && res.inodes_needed > room.inodes)
    return fmt::format("{}: not enough inodes: the restore makes {} files, folders and links, the filesystem has "
                       "room for {}",
                       req.directory, res.inodes_needed, room.inodes);
  return std::nullopt;
}

std::string restored_message(const RestoreRequest& req, const RestoreResult& res) {
  return fmt::format("restored {} entr{} into {}{}{}{}", res.restored, res.restored == 1 ? "y" : "ies", req.directory,
                     res.skipped ? fmt::format("; {} that did not verify {} left out",
                                               res.skipped == 1 ? "1 entry" : fmt::format("{} entries", res.skipped),
                                               res.skipped == 1 ? "was" : "were")
                                 : "",
                     res.not_selected ? fmt::format("; {} not selected", res.not_selected) : "",
                     res.stripped ? fmt::format("; set-user-ID, set-group-ID, sticky or world-writable bits dropped "
                                                "from {} (--preserve-permissions keeps them)",
                                                res.stripped == 1 ? "1 entry" : fmt::format("{} entries", res.stripped))
                                  : "");
}

}  // namespace

namespace {

// DIR, open; made if missing, and what was made is removed again unless the restore went through.
struct Target {
  std::vector<fs::path> made;  // outermost first
  Fd fd;
  bool keep = false;
  explicit Target(const std::string& dir) {
    std::vector<fs::path> missing;
    for (fs::path p = fs::absolute(dir); !p.empty() && !fs::exists(fs::symlink_status(p)); p = p.parent_path())
      missing.push_back(p);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST)
        throw io::Failure(io::Fail::cannot_write, dir + ": cannot create the directory: " + std::strerror(errno));
      made.push_back(*it);
    }
    fd = Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw io::Failure(io::Fail::cannot_open, dir + ": cannot open it: " + std::strerror(errno));
  }
  ~Target() {
    fd = Fd();
    if (!keep)
      for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
  }
};

// What would stop the restore before anything is decoded or written; the messages come in the
// order the user should hear them (verify's own refusal first).
struct Blocks {
  std::optional<std::string> unmatched, plan, targets, room;
  bool any() const { return unmatched || plan || targets || room; }
};

Blocks find_blocks(const RestoreRequest& req, const Plan& plan, const std::string& shown, RestoreResult& res) {
  Blocks b;
  if (plan.unmatched)
    b.unmatched = fmt::format("refused: no entry matches '{}'; nothing was written (zipmedic list {} shows the names)",
                              report::printable_name(*plan.unmatched), shown);
  if (!plan.blocked.empty())
    b.plan = plan.blocked;
  else if (plan.problems && !req.partial)
    b.plan = fmt::format("refused: {} cannot be restored safely (see the findings); nothing was written; --partial "
                         "restores the others",
                         plan.problems == 1 ? "1 entry" : fmt::format("{} entries", plan.problems));
  if (b.any()) return b;
  struct stat st {};
  if (::stat(req.directory.c_str(), &st) == 0) {
    Fd dir(::open(req.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw io::Failure(io::Fail::cannot_open, req.directory + ": cannot open it: " + std::strerror(errno));
    Targets t = judge_targets(dir.get(), req.directory, plan, req.overwrite);
    for (auto& f : t.findings) res.report.findings.push_back(std::move(f));
    if (t.directories)
      b.targets = fmt::format("refused: {} director{} in {} stand{} where files go; restore removes no directory; "
                              "nothing was written",
                              t.directories, t.directories == 1 ? "y" : "ies", req.directory,
                              t.directories == 1 ? "s" : "");
    else if (t.conflicts)
      b.targets = fmt::format("refused: {} path{} in {} already exist{}; nothing was written (--force replaces them)",
                              t.conflicts, t.conflicts == 1 ? "" : "s", req.directory, t.conflicts == 1 ? "s" : "");
    if (b.targets) return b;
  }
  b.room = no_room(req, plan, res);
  return b;
}

std::size_t count_accepted(const Plan& plan, const std::vector<bool>& ok, RestoreResult& res) {
  std::size_t n = 0;
  res.skipped = res.stripped = 0;
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    if (plan.items[i].entry == kImplied) continue;
    if (ok[i]) ++n, res.stripped += plan.items[i].stripped;
    else ++res.skipped;
  }
  return n;
}

// Something stops the restore before anything is written: verify says what it can, and the
// first reason is given.
void refuse_before_writing(const RestoreRequest& req, io::ByteSource& src, const std::string& shown, const Plan& plan,
                           Blocks b, RestoreResult& res) {
  auto target_findings = std::move(res.report.findings);
  auto v = verify(src, req, shown, plan, res, nullptr);
  for (auto& f : target_findings) res.report.findings.push_back(std::move(f));
  res.report.decide_verdict();
  std::size_t verified = 0;
  if (plan.readable && res.report.row_count() == plan.entries)
    verified = count_accepted(plan, accepted_items(plan, res), res);
  if (!plan.readable && !req.patterns.empty()) {
    for (const auto& p : req.patterns) {
      bool any = false;
      for (const auto& e : v.entries) any = any || pattern_matches(p, e.name);
      if (!any && !b.unmatched)
        b.unmatched = fmt::format("refused: no entry matches '{}'; nothing was written (zipmedic list {} shows the "
                                  "names)",
                                  report::printable_name(p), shown);
    }
  }
  if (b.unmatched) return refuse(res, *b.unmatched);
  if (auto why = unverified_refusal(req, v, verified, res)) return refuse(res, *why);
  if (b.plan) return refuse(res, *b.plan);
  if (b.targets) return refuse(res, *b.targets);
  if (b.room) {
    res.outcome = RestoreResult::Outcome::no_space;
    res.message = *b.room;
    return;
  }
  refuse(res, "refused: nothing was written");
}

// A write or read failed after staging began. Staging and the folders the restore made are removed
// on the way out (their destructors), and a commit that failed undid its renames: the report says
// nothing was restored, and why, rather than leaving a half-written DIR to be found later.
void failed_part_way(const RestoreRequest& req, io::ByteSource& src, const std::string& shown, const Plan& plan,
                     const io::Failure& e, RestoreResult& res) {
  std::size_t planned = 0;
  for (const auto& it : plan.items) planned += !it.left_out && it.entry != kImplied;
  res.outcome = RestoreResult::Outcome::failed;
  res.planned = planned;
  res.restored = 0;
  res.message = fmt::format("{}; nothing was restored: the {} written so far {} removed and {} is as it was before",
                            e.what(), planned == 1 ? "entry" : "entries", planned == 1 ? "was" : "were",
                            req.directory);
  report::Report r;
  r.command = "restore";
  r.archive_path = shown;
  r.archive_size = src.size();
  r.verdict = report::Verdict::unreadable;
  r.stats = {{"entries", plan.entries}};
  r.add(report::make_finding(report::Code::io_failed, std::nullopt, std::nullopt, res.message));
  res.report = std::move(r);
}

}  // namespace

namespace {

void restore_from(const RestoreRequest& req, io::ByteSource& src, RestoreResult& res) {
  const std::string& shown = req.display.empty() ? req.archive : req.display;
  Plan plan;
  if (auto end = scan::locate_end_records(src))
    plan = make_plan(src, *end, {req.patterns, req.excludes, req.preserve_permissions, req.partial, req.password});
  res.not_selected = plan.not_selected;
  Blocks blocks;
  if (plan.readable) blocks = find_blocks(req, plan, shown, res);
  if (!plan.readable || blocks.any()) return refuse_before_writing(req, src, shown, plan, std::move(blocks), res);
  Target dir(req.directory);
  Staging staging(dir.fd.get(), req.directory, plan);
  try {
    staging.write(src, req.threads ? req.threads : check::default_threads(), req.password);
  } catch (const io::Failure& e) {
    return failed_part_way(req, src, shown, plan, e, res);
  }
  plan.let_go_of_claims();  // before the decode results are sorted into what verify takes
  const auto known = staging.take_known();
  const auto v = verify(src, req, shown, plan, res, &known);
  if (res.report.row_count() != plan.entries)
    return refuse(res, "refused: the central directory read differently the second time; nothing was written");
  const auto ok = accepted_items(plan, res);
  res.restored = count_accepted(plan, ok, res);
  if (auto why = unverified_refusal(req, v, res.restored, res)) {
    res.restored = 0;
    return refuse(res, std::move(*why));
  }
  try {
    staging.commit(ok, req.overwrite);
  } catch (const io::Failure& e) {
    return failed_part_way(req, src, shown, plan, e, res);
  }
  dir.keep = true;
  res.outcome = RestoreResult::Outcome::restored;
  res.message = restored_message(req, res);
}

}  // namespace

RestoreResult restore_archive(const RestoreRequest& req) {
  RestoreResult res;
  // Shared with the report's rows, which are read back from the directory when it is written.
  std::shared_ptr<io::FileSource> file;
  if (!req.source) file = std::make_shared<io::FileSource>(req.archive);
  restore_from(req, req.source ? *req.source : *file, res);
  if (file && res.report.lazy_rows) res.report.lazy_rows = report::holding(res.report.lazy_rows, file);
  return res;
}

}  // namespace zm::restore
