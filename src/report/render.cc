#include <fmt/format.h>

#include "report/report.h"

namespace zm::report {

nlohmann::json to_json(const Report& r) {
  using nlohmann::json;
  json j;
  j["schema"] = "zipmedic.report/1";
  j["command"] = r.command;
  j["verdict"] = to_string(r.verdict);
  j["archive"] = {{"path", r.archive_path}, {"size", r.archive_size}};
  json entries = json::array();
  for (const auto& e : r.entries) {
    entries.push_back({{"name", printable_name(e.name)},
                       {"method", e.method},
                       {"compressed_size", e.compressed_size},
                       {"uncompressed_size", e.uncompressed_size},
                       {"crc32", fmt::format("{:08x}", e.crc32)},
                       {"offset", e.offset},
                       {"data_descriptor", e.data_descriptor},
                       {"zip64", e.zip64},
                       {"status", e.status}});
  }
  j["entries"] = std::move(entries);
  json findings = json::array();
  for (const auto& f : r.findings) {
    findings.push_back({{"code", f.code},
                        {"severity", to_string(f.severity)},
                        {"entry", f.entry ? json(printable_name(*f.entry)) : json(nullptr)},
                        {"offset", f.offset ? json(*f.offset) : json(nullptr)},
                        {"message", printable_name(f.message)}});
  }
  j["findings"] = std::move(findings);
  j["stats"] = r.stats;
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::string render_text(const Report& r, bool verbose) {
  std::string out;
  std::size_t ok = 0;
  for (const auto& e : r.entries) ok += e.status == "ok";
  out += fmt::format("{}: {} ({} bytes)\n", r.command, r.archive_path, r.archive_size);
  if (verbose || r.entries.size() <= 40) {
    for (const auto& e : r.entries)
      out += fmt::format("  {:<11} {:>12} {:>12} {:08x} {:<8} {}\n", e.status, e.uncompressed_size,
                         e.compressed_size, e.crc32, e.method, printable_name(e.name));
  } else {
    out += fmt::format("  ({} entries; --verbose lists them)\n", r.entries.size());
  }
  const bool repair = r.extra.contains("repair");
  if (repair && !r.findings.empty()) out += "found in the input:\n";
  for (const auto& f : r.findings) {
    out += fmt::format("{}{}: {}", repair ? "  " : "", to_string(f.severity), f.code);
    if (f.entry) out += fmt::format(" [{}]", printable_name(*f.entry));
    if (f.offset) out += fmt::format(" at offset {}", *f.offset);
    out += ": " + f.message + "\n";
  }
  if (repair) {
    const auto& rp = r.extra["repair"];
    out += fmt::format("recovered {} entr{}, lost {}{}\n", rp["entries_recovered"].get<std::size_t>(),
                       rp["entries_recovered"].get<std::size_t>() == 1 ? "y" : "ies",
                       rp["entries_lost"].get<std::size_t>(),
                       rp["looks_finished"].get<bool>()
                           ? ""
                           : "; no central directory followed the entries (cut short or never finished)");
    for (const auto& n : rp["lost"]) out += fmt::format("  lost: {}\n", n.get<std::string>());
    if (r.extra.contains("output")) {
      const auto& o = r.extra["output"];
      if (!o["written"].get<bool>() && o["verdict"] == "ok")
        out += fmt::format("{} is already whole; nothing was appended\n", o["path"].get<std::string>());
      else
        out += fmt::format("{} {} ({}); verified again: {}\n", o["written"].get<bool>() ? "wrote" : "did not keep",
                           o["path"].get<std::string>(), o["mode"].get<std::string>(), o["verdict"].get<std::string>());
    } else {
      out += "nothing was written\n";
    }
    return out;
  }
  out += fmt::format("verdict: {} ({} of {} entries verified; {} errors, {} warnings)\n", to_string(r.verdict), ok,
                     r.entries.size(), r.count(Severity::error), r.count(Severity::warning));
  return out;
}

}  // namespace zm::report
