// The report model shared by every command, and its two renderings.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/codes.h"

namespace zm::report {

// A stable code (codes.def, documented in the man page) and a sentence for people. `readers`
// says which readers refuse, warn about or lack what the finding describes: the rule that made
// the finding knows (check/readers); a code whose rule is the same for every case gives it in
// codes.def.
struct Finding {
  Code code = Code::decode_error;
  Severity severity = Severity::error;
  std::optional<std::string> entry;
  std::optional<std::uint64_t> offset;
  std::string message;
  ReaderGroups readers;
  // `entry` lacks bit 11 and is not UTF-8, so it is shown decoded (display_name): set from the
  // rows by Report::settle_display_names, since the code that finds damage knows the bytes, not
  // the flags. A flag, not the decoded text: a million CP437 names are a million findings.
  bool entry_legacy = false;
};

// A finding of an OWN code (codes.def), which names no reader: its severity is the table's. A
// READERS code must be given its readers (below); asserted.
Finding make_finding(Code code, std::optional<std::string> entry, std::optional<std::uint64_t> offset,
                     std::string message);
// With the readers a rule found: the severity follows from them (an error when a reader refuses,
// a warning when readers only complain, a note when they only lack a feature); with none, the
// table's.
Finding make_finding(Code code, std::optional<std::string> entry, std::optional<std::uint64_t> offset,
                     std::string message, ReaderGroups readers);
// A finding's severity from its readers (as make_finding sets it), for a rule that changes them.
Severity severity_of(Code code, const ReaderGroups& readers);

struct EntryRow {
  std::string name;  // the name's bytes
  std::string method;
  std::uint64_t compressed_size = 0, uncompressed_size = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t offset = 0;   // of the local header, from the start of the file
  EntryStatus status = EntryStatus::unchecked;
  bool data_descriptor = false;
  bool zip64 = false;
  std::string display_name;  // when it is not printable_name(name): see display_name()
  // What the data decoded to when that is not `uncompressed_size` (the claim): where no reader
  // that has the method checks the size (readers::size_binds_no_reader) readers get these bytes,
  // elsewhere the entry is damaged and this says how far its stream went.
  std::optional<std::uint64_t> decoded_size;
};

// locked: no damage found, but encrypted entries could not be verified (no password, or a wrong
// one): exit status 3, as unzip and 7-Zip tell a password problem from damage.
enum class Verdict { ok, damaged, unreadable, locked };
const char* to_string(Verdict v);

// Rows made when the report is written: a verify of a million entries keeps a few bytes of each
// and reads its name and sizes back from the archive's directory only here.
struct RowSource {
  virtual ~RowSource() = default;
  virtual std::size_t size() const = 0;
  virtual std::size_t ok() const = 0;
  virtual void each(const std::function<void(const EntryRow&)>& f) const = 0;
};

// `rows`, keeping `owner` (what they are read back from) alive as long as they are.
std::shared_ptr<const RowSource> holding(std::shared_ptr<const RowSource> rows, std::shared_ptr<const void> owner);

struct Report {
  std::string command;        // verify, scan, repair
  std::string archive_path;
  std::uint64_t archive_size = 0;
  bool size_known = true;  // false when there is no file to measure (it could not be opened)
  // When the command began on this archive (RFC 3339, UTC), the archive file's modification
  // time (RFC 3339) and, with --sha256, its SHA-256 (64 hex digits): set by the CLI.
  std::string started;
  std::optional<std::string> mtime, sha256;
  Verdict verdict = Verdict::ok;
  std::vector<EntryRow> entries;
  std::shared_ptr<const RowSource> lazy_rows;  // instead of `entries`, when set
  std::size_t row_count() const { return lazy_rows ? lazy_rows->size() : entries.size(); }
  std::size_t rows_ok() const;
  void for_each_row(const std::function<void(const EntryRow&)>& f) const;
  std::vector<Finding> findings;
  nlohmann::json stats = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::object();  // command-specific block (scan, repair)
  void add(Finding f) { findings.push_back(std::move(f)); }
  // Marks each finding whose entry is not UTF-8 and whose row lacks bit 11 (entry_legacy). Rows
  // are walked only when there is such a finding (a verify of a million entries reads them back).
  void settle_display_names();
  bool has_errors() const;
  std::size_t count(Severity s) const;
  // `strict` (--strict): a warning makes the verdict damaged too, for a job that wants any
  // reader's complaint to fail.
  void decide_verdict(bool strict = false);
};

// The JSON layout's version (docs/report.schema.json): every line --json writes names it.
inline constexpr const char* kSchema = "zipmedic.report/3";

// The two renderings, written to `os` as they are made (a report may list 200,000 entries).
// write_json writes one compact line, ending in a newline.
void write_json(std::ostream& os, const Report& r);
void write_text(std::ostream& os, const Report& r, bool verbose);

// Names as JSON strings: raw bytes that are not valid UTF-8 are shown as \xNN, so that a JSON
// document is always produced and no byte is hidden.
std::string printable_name(std::string_view raw);
// A name as people read it (the text report, list, messages on stderr). Bit 11 set (APPNOTE 4.4.4):
// the name as printable_name shows it. Bit 11 clear: a name that is valid UTF-8 as it is, since
// Info-ZIP on Linux writes UTF-8 without the flag and unzip and 7-Zip show it so; any other name
// decoded as CP437 (APPNOTE appendix D), as unzip, 7-Zip and Windows Explorer show an archive
// from MS-DOS or Windows. Names in another code page (CP932, CP866, KOI8-R) cannot be told apart
// by their bytes and show as CP437 too, unless set_legacy_charset named one. Control bytes keep
// their \xNN form in every case, so that a name never moves the terminal's cursor.
std::string display_name(const std::string& raw, std::uint16_t flags);
// display_name when it differs from printable_name (a name without bit 11 that is not UTF-8),
// else empty: what an EntryRow keeps.
std::string other_display_name(const std::string& raw, std::uint16_t flags);
// The code point of a CP437 byte of 0x80 or above.
char32_t cp437_code_point(unsigned char c);
// The code page of names without bit 11 that are not UTF-8 (--name-charset; CP437 when empty),
// as iconv names it. Returns false, keeping CP437, when iconv does not know the name.
bool set_legacy_charset(const std::string& charset);
// What a row shows for its name.
std::string shown_name(const EntryRow& e);
// A finding's entry shows the bytes too when they read otherwise, since a finding may be about
// the bytes (name_invalid: "Übersicht.txt (bytes \x9abersicht.txt)").
std::string shown_entry(const Finding& f);
bool is_utf8(std::string_view s);
// The length of the strict UTF-8 sequence at s[i] (1 to 4), or 0 when none starts there.
std::size_t utf8_length_at(std::string_view s, std::size_t i);

}  // namespace zm::report
