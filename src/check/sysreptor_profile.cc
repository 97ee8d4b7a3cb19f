#include "check/sysreptor_profile.h"

#include <fmt/format.h>

#include <cstring>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "codec/codec.h"

namespace zm::check {
using report::make_finding;
using scan::Entry;

namespace {

constexpr std::uint64_t kMaxSmallJson = 64u << 20;  // migrations.json, configurations.json
constexpr std::size_t kMaxLine = 64u << 20;         // one backup.jsonl record
constexpr int kMaxReportedLines = 20;

// Decodes an entry the way verify did, handing its bytes to `sink`.
void read_entry(io::ByteSource& src, const Entry& e, const std::function<void(std::span<const std::uint8_t>)>& sink,
                codec::Workspace& ws) {
  auto req = scan::sized_request(e);
  req.sink = sink;
  ws.decode(src, req);
}

std::string folder_of(const std::string& name) {
  auto slash = name.find('/');
  return slash == std::string::npos ? "" : name.substr(0, slash);
}

using ByName = std::map<std::string, const Entry*>;

void check_required(const ByName& by_name, report::Report& rep) {
  for (const char* need : {"VERSION", "migrations.json", "backup.jsonl"}) {
    if (!by_name.count(need))
      rep.add(make_finding(report::Code::profile_missing_entry, std::string(need), std::nullopt,
                           fmt::format("a SysReptor backup has a whole '{}' entry; this one has none", need)));
  }
}

void check_version(io::ByteSource& src, const ByName& by_name, report::Report& rep, nlohmann::json& summary,
                   codec::Workspace& ws) {
  auto it = by_name.find("VERSION");
  if (it == by_name.end()) return;
  std::string v;
  read_entry(src, *it->second, [&](auto b) { if (v.size() < 256) v.append(b.begin(), b.end()); }, ws);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
  bool printable = !v.empty() && v.size() < 100;
  for (unsigned char c : v) printable &= c >= 0x20 && c < 0x7f;
  if (!printable)
    rep.add(make_finding(report::Code::profile_bad_content, std::string("VERSION"), it->second->lfh_offset,
                         "VERSION does not hold a readable version string"));
  else
    summary["version"] = v;
}

void check_small_json(io::ByteSource& src, const ByName& by_name, report::Report& rep, codec::Workspace& ws) {
  for (const char* name : {"migrations.json", "configurations.json"}) {
    auto it = by_name.find(name);
    if (it == by_name.end()) continue;
    if (it->second->uncompressed_size > kMaxSmallJson) {
      rep.add(make_finding(report::Code::profile_bad_content, std::string(name), it->second->lfh_offset,
                           fmt::format("{} is {} bytes, far more than SysReptor writes", name,
                                       it->second->uncompressed_size)));
      continue;
    }
    std::string text;
    read_entry(src, *it->second, [&](auto b) { text.append(b.begin(), b.end()); }, ws);
    // Validity only: accept() checks without building the document.
    if (!nlohmann::json::accept(text))
      rep.add(make_finding(report::Code::profile_bad_content, std::string(name), it->second->lfh_offset,
                           fmt::format("{} is not valid JSON", name)));
  }
}

// backup.jsonl: one JSON object with "model" and "fields" per line, judged as it decodes, so
// that memory stays bounded by the longest line.
class JsonlJudge {
 public:
  JsonlJudge(const Entry& e, report::Report& rep) : e_(e), rep_(rep) {}

  void feed(std::span<const std::uint8_t> b) {
    const char* p = reinterpret_cast<const char*>(b.data());
    const char* end = p + b.size();
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', std::size_t(end - p)));
      const char* stop = nl ? nl : end;
      if (!overlong_) {
        if (line_.size() + std::size_t(stop - p) > kMaxLine) {
          overlong_ = true;
          line_.clear();
        } else {
          line_.append(p, stop);
        }
      }
      if (!nl) break;
      judge_line();
      p = nl + 1;
    }
  }

  void finish(nlohmann::json& summary) {
    if (!line_.empty() || overlong_) judge_line();
    if (bad_ > kMaxReportedLines)
      rep_.add(make_finding(report::Code::profile_bad_content, std::string("backup.jsonl"), e_.lfh_offset,
                            fmt::format("{} bad lines in all; the first {} are listed", bad_, kMaxReportedLines)));
    summary["records_per_model"] = per_model_;
    summary["records"] = line_no_;
  }

 private:
  void judge_line() {
    ++line_no_;
    std::string why = overlong_ ? fmt::format("the line is longer than {} bytes", kMaxLine)
                      : line_.empty() ? ""  // a blank line (the last newline) carries no record
                                      : why_not_record(line_);
    if (!why.empty() && ++bad_ <= kMaxReportedLines)
      rep_.add(make_finding(report::Code::profile_bad_content, std::string("backup.jsonl"), e_.lfh_offset,
                            fmt::format("line {}: {}", line_no_, why)));
    overlong_ = false;
    line_.clear();
  }

  // Empty when the line is a record; counts it by model.
  std::string why_not_record(const std::string& l) {
    try {
      auto j = nlohmann::json::parse(l);
      if (!j.is_object() || !j.contains("model") || !j["model"].is_string() || !j.contains("fields") ||
          !j["fields"].is_object())
        return "the line is JSON but not an object with \"model\" and \"fields\"";
      ++per_model_[j["model"].get<std::string>()];
      return "";
    } catch (const nlohmann::json::exception&) {
      return "the line is not valid JSON";
    }
  }

  const Entry& e_;
  report::Report& rep_;
  std::map<std::string, std::uint64_t> per_model_;
  std::string line_;
  std::uint64_t line_no_ = 0, bad_ = 0;
  bool overlong_ = false;
};

void check_folders(io::ByteSource& src, const ByName& by_name, report::Report& rep, nlohmann::json& summary,
                   codec::Workspace& ws) {
  std::map<std::string, std::uint64_t> per_folder;
  for (const auto& [name, e] : by_name) {
    std::string folder = folder_of(name);
    if (folder.empty()) continue;
    ++per_folder[folder];
    if (folder == "archivedfiles") {
      // Archived projects are stored encrypted by SysReptor itself.
      std::string head;
      read_entry(src, *e, [&](auto b) { if (head.size() < 4) head.append(b.begin(), b.end()); }, ws);
      if (head.compare(0, 4, "\xC2YPT") != 0)
        rep.add(make_finding(report::Code::profile_bad_content, name, e->lfh_offset,
                             "files under archivedfiles/ start with the encryption magic C2 59 50 54; this one does not"));
    }
  }
  summary["files_per_folder"] = per_folder;
}

// stats.json is written last: without it the writer never finished.
void check_finished(const std::vector<Entry>& entries, const ByName& by_name, report::Report& rep,
                    nlohmann::json& summary, bool repairing) {
  const Entry* last_whole = nullptr;
  for (const auto& e : entries)
    if (e.status == report::EntryStatus::ok) last_whole = &e;
  summary["finished"] = by_name.count("stats.json") > 0;
  if (by_name.count("stats.json")) return;
  auto f = make_finding(report::Code::backup_incomplete, std::nullopt, std::nullopt,
      fmt::format("stats.json, which SysReptor writes last, is missing: the backup was never finished{}",
                  last_whole ? fmt::format("; the last whole entry is '{}'", report::printable_name(last_whole->name))
                             : ""));
  if (last_whole) f.entry = last_whole->name;
  f.severity = repairing ? report::Severity::warning : report::Severity::error;
  rep.add(f);
}

}  // namespace

void check_sysreptor_profile(io::ByteSource& src, const std::vector<Entry>& entries, report::Report& rep,
                             bool repairing) {
  codec::Workspace ws;
  ByName by_name;
  // An entry no PATTERN selected is there, unread: the profile reads what it needs of it itself.
  for (const auto& e : entries)
    if (scan::walked_whole(e)) by_name.emplace(e.name, &e);
  nlohmann::json summary = nlohmann::json::object();
  check_required(by_name, rep);
  check_version(src, by_name, rep, summary, ws);
  check_small_json(src, by_name, rep, ws);
  if (auto it = by_name.find("backup.jsonl"); it != by_name.end()) {
    JsonlJudge lines(*it->second, rep);
    read_entry(src, *it->second, [&](std::span<const std::uint8_t> b) { lines.feed(b); }, ws);
    lines.finish(summary);
  }
  check_folders(src, by_name, rep, summary, ws);
  check_finished(entries, by_name, rep, summary, repairing);
  rep.extra["sysreptor"] = summary;
}

}  // namespace zm::check
