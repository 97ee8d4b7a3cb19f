// What a repair will write, decided from what the scan found and what an old directory says,
// entry by entry in file order and before that entry's bytes are written: pure but for the
// rescue, so that the choice of entries and fields can be tested alone. A repair of a million
// entries feeds them through a batch at a time (docs/design.md, MEMORY in the man page); plan() is the same over a vector.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/source.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "zip/writer.h"

namespace zm::repair {

struct PlanOptions {
  bool in_place = false;         // the entries stay where they are; only a directory is appended
  bool salvage_partial = false;  // copy mode: keep the intact start of cut entries as NAME.partial
  std::uint64_t source_size = 0;
  // The old directory parsed without an error (plan() over a directory held in memory: then
  // every record's name may outvote a local header's; see OldDirectory::sound).
  bool directory_whole = false;
  // The archive, for the bytes around an entry's end (a name that ran into the next header).
  io::ByteSource* source = nullptr;
};

// The old central directory as a witness: what its record says of the entry whose local header is
// at an offset (the first record pointing there). It is the only witness of attributes and
// comments. Its records reach the plan's census once, through Planner::census_record.
class OldDirectory {
 public:
  virtual ~OldDirectory() = default;
  virtual std::optional<scan::Entry> at(std::uint64_t lfh_offset) = 0;
  // Whether the name of the record at() gives can outvote a local header's: a record followed
  // by another that parsed, or by the directory's exact end. An edited name length shifts every
  // field after it, so the record read last before the directory broke off is not sound.
  virtual bool sound(std::uint64_t lfh_offset) const = 0;
};

// One held in memory (a few entries; tests).
class DirectoryInMemory final : public OldDirectory {
 public:
  DirectoryInMemory(const std::map<std::uint64_t, scan::Entry>& by_offset, bool whole)
      : by_offset_(by_offset), whole_(whole) {}
  std::optional<scan::Entry> at(std::uint64_t lfh_offset) override;
  bool sound(std::uint64_t) const override { return whole_; }

 private:
  const std::map<std::uint64_t, scan::Entry>& by_offset_;
  bool whole_;
};

// Entries the walk read wrongly because their local header is damaged (bit 3 or the sizes edited),
// while the old directory's record is right: when the bytes decoded as the record describes them
// give its CRC and sizes, the entry takes the record's claims (claims_from_directory). In copy
// mode also when both decode to the verified data but the record's method is one more readers
// have. The one step of planning that reads the source; true when the entry was rescued.
bool rescue_entry(scan::Entry& e, const scan::Entry& cd, io::ByteSource& src, codec::Workspace& ws, bool in_place);

// Copy mode: what the stream itself says, where a header may have lost it. An LZMA entry's bit 1
// is set to whether its stream ends with a marker; a Deflate64 entry whose stream decodes alike
// as Deflate is written as Deflate.
void learn_from_stream(scan::Entry& e, io::ByteSource& src, codec::Workspace& ws);

class Planner {
 public:
  Planner(OldDirectory& directory, const PlanOptions& opt) : directory_(directory), opt_(opt) {}
  // First every walked entry, in file order: a name's folder counts for it when another entry
  // uses that folder too.
  void census(const scan::Entry& e);
  // Then each record of the old directory that is the first to name its offset (the one
  // OldDirectory::at gives), once: its folder counts too, and a record whose offset no walked
  // entry has is noted until finish() can tell whether its entry was lost.
  void census_record(const scan::Entry& record);
  // Whether the walk found a local header at `lfh_offset` (after the census).
  bool walked(std::uint64_t lfh_offset);
  // Then each entry again, in file order, with the old directory's record at its offset.
  enum class Kind { keep, partial, lost };
  struct Decision {
    Kind kind = Kind::lost;
    zip::EntryRecord record;  // for keep: what the new directory says of it
  };
  Decision decide(const scan::Entry& e, const std::optional<scan::Entry>& cd);
  // Room for the names of `n` entries, before the first decide().
  void reserve(std::size_t n) { names_.reserve(n); }
  // Last: records of the old directory that no walked entry matched, in offset order.
  void finish();

  std::vector<std::string> lost;          // names of entries left out
  std::vector<report::Finding> findings;  // what planning noticed (duplicates, disagreements)
  std::size_t kept = 0;

 private:
  // Why an entry is left out: the finding's code and text.
  // Why an entry is left out, and the readers that read the input otherwise for that reason: a
  // local header and the old directory that disagree on the data are read otherwise by unzip,
  // 7-Zip and libarchive (docs/readers.md, rule 36), on the name by Python and libarchive, with a
  // warning from unzip (rule 31).
  struct Loss {
    report::Code code;
    std::string why;
    report::ReaderGroups readers;
  };
  static constexpr report::ReaderGroups kByData{report::kUnzip | report::kSevenZip | report::kLibarchive, 0, 0};
  static constexpr report::ReaderGroups kByName{report::kPython | report::kLibarchive, report::kUnzip, 0};
  // The local header's name against the old record's, when they differ and both describe the data.
  struct NameContest {
    bool trusted = false;  // the record's name may outvote the local one
    bool cd_wins = false;  // the record's name is the likelier
    bool tie = false;      // neither is likelier
  };
  Decision lose(const scan::Entry& e, Loss loss);
  Decision unverified(const scan::Entry& e, const std::optional<scan::Entry>& record);
  NameContest contest(const scan::Entry& e, const scan::Entry* cd) const;
  // The old record against the entry as the walk read it: why it is left out, if it is. A
  // witness whose CRC or sizes differ from the verified data is noted (the data wins).
  std::optional<Loss> doubt_from_record(const scan::Entry& e, const std::optional<scan::Entry>& record,
                                        const scan::Entry* cd);
  // Two names the old directory makes a contest of, and which one cannot be written.
  std::optional<Loss> name_unsettled(const scan::Entry& e, const scan::Entry* cd, const NameContest& c) const;
  Decision keep(const scan::Entry& e, const scan::Entry* cd, bool cd_name);

  struct FolderUse {
    std::uint64_t first;
    bool many;
  };
  struct NameKey {
    std::uint64_t a = 0, b = 0;
    bool operator==(const NameKey&) const = default;
  };
  // Open addressing over one flat array: a million lookups cost one cache miss each, not the
  // bucket-and-node chase (and the allocation) of a node-based set. Beside each name, what its
  // data was (CRC and size), so that an old record of that name is matched to it only when it
  // describes the same data.
  class NameSet {
   public:
    void reserve(std::size_t n);
    bool insert(NameKey k, std::uint64_t data = 0);  // false when the name is already there
    const std::uint64_t* find(NameKey k) const;       // its data, or null
    void clear() { std::vector<Slot>().swap(slots_); count_ = 0; }

   private:
    struct Slot {
      NameKey key;  // {0, 0}: empty
      std::uint64_t data = 0;
    };
    std::vector<Slot> slots_;
    std::size_t count_ = 0;
  };
  static std::uint64_t data_key(std::uint32_t crc, std::uint64_t size) { return std::uint64_t(crc) << 32 ^ size; }
  static NameKey key_of(const std::string& name);
  void add_folder(const std::string& name, std::uint64_t off);
  void note_metadata_lost(const scan::Entry& e);
  std::size_t metadata_lost_ = 0, probable_links_ = 0;  // kept entries with no record (metadata_lost)
  std::vector<std::size_t> damaged_copies_;  // indexes in `lost` of entries that did not verify
  int likelihood(const std::string& name, std::uint64_t off) const;
  bool take_name(const std::string& name, std::uint64_t data) { return names_.insert(key_of(name), data); }

  OldDirectory& directory_;
  PlanOptions opt_;
  std::map<std::string, FolderUse> folders_;
  // Names kept so far, by two independent 64-bit hashes: a million names are not held, and two
  // different names that collide in both are beyond any archive's reach.
  NameSet names_;
  NameSet lost_names_;  // of entries the walk met and left out (one lost entry is counted once)
  std::vector<std::uint64_t> found_;  // every walked entry's offset, in file order
  bool found_sorted_ = false;
  // Old records whose offset no walked entry has: lost unless an entry of that name and data was
  // kept. Their names are read again only for those that are lost (a shifted directory's records
  // may all be unmatched, and most are kept elsewhere).
  struct Unmatched {
    NameKey key;
    std::uint64_t lfh_offset, data;
  };
  std::vector<Unmatched> unmatched_;
};

// The whole plan at once, over entries held in memory (rescue_entry already applied).
struct PlannedEntry {
  const scan::Entry* entry = nullptr;
  zip::EntryRecord record;
};
struct RepairPlan {
  std::vector<PlannedEntry> keep;
  std::vector<const scan::Entry*> partials;
  std::vector<std::string> lost;
  std::vector<report::Finding> findings;
};
RepairPlan plan(const std::vector<scan::Entry>& found, const std::map<std::uint64_t, scan::Entry>& directory,
                const PlanOptions& opt);

}  // namespace zm::repair
