// --profile sysreptor: checks that only make sense for SysReptor backups (ZIP-NOTES, "SysReptor
// specifics"): the expected entries, readable content, and whether the writer finished.
#pragma once
#include <vector>

#include "io/source.h"
#include "report/report.h"
#include "scan/catalog.h"

namespace zm::check {

// Adds profile findings and a "sysreptor" summary to `rep`. Entries are in archive order; only
// those whose status is "ok" are read. In a repair, an unfinished backup is a warning (the
// repair did what it could); in verify it is an error.
void check_sysreptor_profile(io::ByteSource& src, const std::vector<scan::Entry>& entries, report::Report& rep,
                             bool repairing);

}  // namespace zm::check
