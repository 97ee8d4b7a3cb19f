// Split archives: finding a set's volumes from any one of them, and what a missing or cut volume
// means for the joined bytes (APPNOTE 8.5).
#pragma once
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/volumes.h"
#include "report/report.h"

namespace zm::scan {

struct VolumeSet {
  enum class Kind {
    pkware,    // NAME.z01 ... NAME.zip: zip -s, WinZip, PKZIP; offsets count per volume (disk numbers)
    numbered,  // NAME.001, NAME.002 ...: 7-Zip's -v, split(1): one ordinary ZIP cut into pieces
  };
  Kind kind = Kind::pkware;
  std::string name;  // the set as one names it: NAME.zip (pkware), NAME (numbered: x.zip of x.zip.001)
  struct Volume {
    std::string path;
    bool present = false;
    std::uint64_t size = 0;  // what the file holds
  };
  std::vector<Volume> volumes;  // in order, missing ones in their place as far as they are known
  // The size every volume but the last has (the most common among those there, the larger of two
  // equally common); 0 when none is there.
  std::uint64_t volume_size = 0;
};

// The set `path` is a volume of: NAME.zNN or a NAME.zip that has NAME.z01 ... beside it (same
// directory, same stem), or NAME.NNN. nullopt for an ordinary file. The number of volumes of a
// PKWARE set comes from its last volume's end record (its disk number) when that can be read,
// else from the highest-numbered volume present.
std::optional<VolumeSet> find_volume_set(const std::string& path);

// The set's bytes as one source; a missing or short volume is a run of zeros of the set's
// volume size (the last one's size is unknown, so nothing stands in for it).
std::unique_ptr<io::VolumeSource> open_volume_set(const VolumeSet& set);

// volume_missing and volume_truncated for the volumes the set lacks or that are shorter than the
// others, at their place in the joined bytes. `end_found`: the joined bytes end with end records
// (otherwise the last volume present was cut, or volumes after it are missing).
std::vector<report::Finding> volume_findings(const VolumeSet& set, const io::VolumeSource& src, bool end_found);

// Where a position of the joined bytes is, for people: "x.z02 at offset 1234".
std::string volume_place(const io::VolumeSource& src, std::uint64_t pos);

}  // namespace zm::scan

namespace zm::scan {

// The bytes of a split set as one ordinary ZIP, for a reader that knows no volumes (libarchive in
// restore): the joined bytes up to the directory, then the directory with each record's disk set
// to 0 and its offset made a position in the joined bytes (ZIP64 fields where it needs them), then
// end records of one volume. Nothing is written anywhere. With `only`, the directory lists only
// the entries of those names (restore --partial: a reader that walks the directory then never
// meets the local header of an entry that did not verify). `source` itself when its offsets are
// positions already (one file, 7-Zip's pieces) and no `only` is given; nullptr with `why` when
// the directory cannot be read whole or a record points outside the set.
struct JoinedView {
  std::unique_ptr<io::ByteSource> own;
  io::ByteSource* src = nullptr;
  std::string why;
};
JoinedView joined_view(io::ByteSource& source, const std::set<std::string>* only = nullptr);

}  // namespace zm::scan
