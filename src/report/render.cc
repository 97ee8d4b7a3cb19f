#include <fmt/format.h>

#include <iterator>
#include <map>
#include <ostream>

#include "report/progress.h"
#include "report/report.h"

namespace zm::report {

namespace {

using nlohmann::json;

// Every string is made valid UTF-8 by the model; `replace` is the backstop for a JSON document.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// One compact line, written as it goes (JSON Lines: a report per archive per line, whatever
// their number): a DOM of 200,000 entries took 475 MiB and 2.4 s to build and print, where the
// rest of the verification took 124 MiB and 0.6 s.
void write_json(std::ostream& os, const Report& r) {
  json archive = {{"path", r.archive_path},
                 {"size", r.size_known ? json(r.archive_size) : json(nullptr)},
                 {"mtime", r.mtime ? json(*r.mtime) : json(nullptr)}};
  if (r.sha256) archive["sha256"] = *r.sha256;
  const json counts = {{"errors", r.count(Severity::error)},
                       {"warnings", r.count(Severity::warning)},
                       {"notes", r.count(Severity::info)}};
  os << "{\"schema\":\"" << kSchema << "\",\"tool\":{\"name\":\"zipmedic\",\"version\":\"" << ZIPMEDIC_VERSION
     << "\"},\"started\":" << dump(r.started) << ",\"command\":" << dump(r.command)
     << ",\"verdict\":" << dump(to_string(r.verdict)) << ",\"archive\":" << dump(archive)
     << ",\"counts\":" << dump(counts) << ",\"entries\":[";
  std::string line;
  std::size_t i = 0;
  r.for_each_row([&](const EntryRow& e) {
    line.clear();
    // "name" stays the bytes (scripts compare it); "display_name" is there only when people read
    // the name otherwise (a legacy code page).
    fmt::format_to(std::back_inserter(line),
                   "{}{{\"name\":{},{}\"method\":{},\"compressed_size\":{},\"uncompressed_size\":{},{}"
                   "\"crc32\":\"{:08x}\",\"offset\":{},\"data_descriptor\":{},\"zip64\":{},\"status\":{}}}",
                   i ? "," : "", dump(printable_name(e.name)),
                   e.display_name.empty() ? std::string() : "\"display_name\":" + dump(e.display_name) + ",",
                   dump(e.method), e.compressed_size, e.uncompressed_size,
                   e.decoded_size ? fmt::format("\"decoded_size\":{},", *e.decoded_size) : std::string(), e.crc32,
                   e.offset, e.data_descriptor, e.zip64, dump(to_string(e.status)));
    os << line;
    ++i;
  });
  os << "],\"findings\":[";
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    const auto& f = r.findings[i];
    auto ids = [](Readers rs) {
      json list = json::array();
      for (unsigned b = 0; b < 6; ++b)
        if (rs & (1u << b)) list.push_back(reader_id(Reader(1u << b)));
      return list;
    };
    const json readers = {{"refuse", ids(f.readers.refuse)}, {"warn", ids(f.readers.warn)}, {"lack", ids(f.readers.lack)}};
    os << (i ? "," : "")
       << dump({{"code", std::string(to_string(f.code))},
                {"severity", to_string(f.severity)},
                {"entry", f.entry ? json(printable_name(*f.entry)) : json(nullptr)},
                {"offset", f.offset ? json(*f.offset) : json(nullptr)},
                {"message", printable_name(f.message)},
                {"readers", readers}});
  }
  os << "],\"stats\":" << dump(r.stats);
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) os << "," << dump(it.key()) << ":" << dump(it.value());
  os << "}\n";
}

namespace {

// Beyond this many findings of one kind the text report gives the first and a tally.
constexpr std::size_t kListedOfAKind = 3, kExamples = 3;

// Which readers refuse, warn or lack matters when some do and others do not (docs/readers.md);
// "every reader refuses this" says nothing a damaged verdict does not.
std::string readers_clause(const ReaderGroups& g) {
  auto verb = [](Readers r, const char* one, const char* many) {
    return fmt::format("{} {}", reader_names(r), __builtin_popcount(r) == 1 ? one : many);
  };
  std::string parts;
  auto add = [&](std::string part) { parts += (parts.empty() ? "" : "; ") + part; };
  if (g.refuse && g.refuse != kAllReaders) add(verb(g.refuse, "refuses this", "refuse this"));
  if (g.warn) add(verb(g.warn, "reads the same bytes but warns or names them otherwise",
                         "read the same bytes but warn or name them otherwise"));
  if (g.lack) add(verb(g.lack, "lacks this", "lack this"));
  return parts.empty() ? std::string() : " (" + parts + ")";
}

Tone tone_of(Severity s) { return s == Severity::error ? Tone::bad : s == Severity::warning ? Tone::warn : Tone::dim; }
Tone tone_of(Verdict v) { return v == Verdict::ok ? Tone::good : Tone::bad; }
Tone tone_of(EntryStatus s) {
  return s == EntryStatus::ok ? Tone::good : s == EntryStatus::unchecked ? Tone::dim : Tone::bad;
}

// The text is built in a buffer that goes out every 64 KiB: --verbose on 200,000 entries is
// 15 MB of text, and a million findings (a million unsafe names, with --verbose) held at once
// took 280 MiB more than the verification.
void flush_when_full(std::ostream& os, std::string& out) {
  if (out.size() < (64u << 10)) return;
  os << out;
  out.clear();
}

// The first line, and for a split archive which files were read as it and which are missing.
std::string heading(const Report& r) {
  std::string out = fmt::format("{}: {} ({})\n", r.command, r.archive_path, human_size(r.archive_size));
  if (!r.extra.contains("volumes")) return out;
  std::string names;
  for (const auto& v : r.extra["volumes"]["volumes"]) {
    std::string path = v["path"].get<std::string>();
    auto slash = path.rfind('/');
    if (slash != std::string::npos) path.erase(0, slash + 1);
    names += (names.empty() ? "" : ", ") + path + (v["present"].get<bool>() ? "" : " (missing)");
  }
  return out + fmt::format("  volumes: {} ({} split set)\n", names,
                           r.extra["volumes"]["kind"] == "pkware" ? "PKWARE/Info-ZIP" : "numbered");
}

// One row per entry (all with --verbose, else up to 40), or how many there are.
void write_rows(std::ostream& os, std::string& out, const Report& r, bool verbose) {
  const std::size_t rows = r.row_count();
  if (!verbose && rows > 40) {
    out += fmt::format("  ({}; --verbose lists them)\n", count_of(rows, "entry", "entries"));
    return;
  }
  // Sizes in the rows stay exact bytes, as unzip -l and 7z l print them: a column of them is
  // compared and summed, not read once.
  if (rows)
    out += paint(fmt::format("  {:<11} {:>12} {:>12} {:<8} {:<8} {}", "status", "size", "compressed", "crc-32",
                             "method", "name"),
                 Tone::bold) +
           "\n";
  // Written as they come, not gathered first.
  r.for_each_row([&](const EntryRow& e) {
    out += "  " + paint(fmt::format("{:<11}", to_string(e.status)), tone_of(e.status));
    fmt::format_to(std::back_inserter(out), " {:>12} {:>12} {:08x} {:<8} {}\n", e.uncompressed_size,
                   e.compressed_size, e.crc32, e.method, shown_name(e));
    flush_when_full(os, out);
  });
}

// One line per kind of finding (code and severity) beyond a few of a kind: a never-finished
// backup of /etc has 848 links, an encrypted archive a password_needed per entry. The first of
// the kind is shown whole with a tally and a few more names; --verbose and JSON keep every one.
struct Kind {
  std::size_t count = 0;
  std::vector<std::string> examples;  // after the first
  bool written = false;
};
using Kinds = std::map<std::pair<Code, Severity>, Kind>;

Kinds kinds_of(const std::vector<Finding>& findings) {
  Kinds kinds;
  for (const auto& f : findings) {
    Kind& k = kinds[{f.code, f.severity}];
    if (k.count++ > 0 && k.examples.size() < kExamples)
      k.examples.push_back(f.entry ? shown_entry(f) : f.offset ? fmt::format("offset {}", *f.offset) : "-");
  }
  return kinds;
}

// The findings, one a line, indented under a repair's "found in the input"; without --verbose,
// a kind with many findings is one line that stands for them all.
void write_findings(std::ostream& os, std::string& out, const Report& r, bool verbose, bool indent) {
  Kinds kinds = verbose ? Kinds{} : kinds_of(r.findings);
  for (const auto& f : r.findings) {
    Kind* kind = nullptr;
    if (!verbose) {
      Kind& k = kinds[{f.code, f.severity}];
      if (k.count > kListedOfAKind) {
        if (k.written) continue;
        kind = &k;
      }
    }
    out += (indent ? "  " : "") + paint(to_string(f.severity), tone_of(f.severity)) + fmt::format(": {}", f.code);
    if (f.entry) out += fmt::format(" [{}]", shown_entry(f));
    if (f.offset) out += fmt::format(" at offset {}", *f.offset);
    out += ": " + f.message;
    out += readers_clause(f.readers);
    if (kind) {
      kind->written = true;
      std::string names;
      for (const auto& m : kind->examples) names += (names.empty() ? "" : ", ") + m;
      out += fmt::format("; and {} more like it ({}{}; --verbose lists them all)", kind->count - 1, names,
                         kind->count - 1 > kind->examples.size() ? ", ..." : "");
    }
    out += "\n";
    flush_when_full(os, out);
  }
}

// A repair's last lines: what was recovered and lost, and what became of the output.
std::string repair_outcome(const Report& r) {
  const auto& rp = r.extra["repair"];
  auto recovered = rp["entries_recovered"].get<std::size_t>();
  std::string out = fmt::format("recovered {}, lost {}{}\n", count_of(recovered, "entry", "entries"),
                                rp["entries_lost"].get<std::size_t>(),
                                rp["looks_finished"].get<bool>()
                                    ? ""
                                    : "; no central directory followed the entries (cut short or never finished)");
  for (const auto& n : rp["lost"]) out += fmt::format("  lost: {}\n", n.get<std::string>());
  if (!r.extra.contains("output")) return out + "nothing was written\n";
  const auto& o = r.extra["output"];
  if (!o["written"].get<bool>() && o["verdict"] == "ok")
    return out + fmt::format("{} is already whole; nothing was appended\n", o["path"].get<std::string>());
  return out + fmt::format("{} {} ({}); verified again: {}\n", o["written"].get<bool>() ? "wrote" : "did not keep",
                           o["path"].get<std::string>(), o["mode"].get<std::string>(),
                           paint(o["verdict"].get<std::string>(),
                                 o["verdict"] == "ok" && o["written"].get<bool>() ? Tone::good : Tone::bad));
}

std::string verdict_line(const Report& r) {
  const bool sampled = r.extra.contains("checked") && r.extra["checked"].contains("sample");
  return fmt::format("verdict: {}{} ({} of {} verified; {}, {})\n", paint(to_string(r.verdict), tone_of(r.verdict)),
                     sampled ? ", sampled" : "",
                     r.rows_ok(), count_of(r.row_count(), "entry", "entries"),
                     count_of(r.count(Severity::error), "error", "errors"),
                     count_of(r.count(Severity::warning), "warning", "warnings"));
}

// verify PATTERN: whose data was decoded, of how many (the structure was checked in full).
std::string checked_line(const Report& r) {
  if (!r.extra.contains("checked")) return {};
  const auto& c = r.extra["checked"];
  std::string words;
  for (const auto& p : c["patterns"]) words += " " + p.get<std::string>();
  for (const auto& x : c["excludes"]) words += " --exclude " + x.get<std::string>();
  if (c.contains("sample"))
    words += fmt::format(" a random sample of {:.4g}% (--seed {})", c["sample"]["share"].get<double>() * 100,
                         c["sample"]["seed"].get<std::uint64_t>());
  std::string out = fmt::format("{}data checked: {} of {} ({} of {} compressed bytes), selected by{}\n",
                                c.contains("sample") ? "sampled: " : "",
                                c["entries"].get<std::size_t>(),
                                count_of(c["of_entries"].get<std::size_t>(), "entry", "entries"),
                                c["compressed_bytes"].get<std::uint64_t>(), c["of_compressed_bytes"].get<std::uint64_t>(),
                                words);
  for (const auto& p : c["unmatched"]) out += fmt::format("no entry matches {}\n", p.get<std::string>());
  return out;
}

}  // namespace

void write_text(std::ostream& os, const Report& r, bool verbose) {
  std::string out = heading(r);
  write_rows(os, out, r, verbose);
  const bool repair = r.extra.contains("repair");
  if (repair && !r.findings.empty()) out += "found in the input:\n";
  write_findings(os, out, r, verbose, repair);
  out += repair ? repair_outcome(r) : checked_line(r) + verdict_line(r);
  os << out;
}

}  // namespace zm::report
