// What a repair keeps in temporary files comes back as it went in (issue 13).
#include <doctest/doctest.h>

#include "codec/codec.h"
#include "io/spill.h"
#include "scan/entry_spill.h"

using namespace zm;

namespace {

// Every field away from its default, so that one the spill drops shows.
scan::Entry unusual(int i) {
  scan::Entry e;
  e.name = "dir/name-" + std::to_string(i) + std::string(std::size_t(i % 7) * 40, 'x');
  e.version_made_by = 0x31E;
  e.version_needed = 45;
  e.flags = 0x0809;
  e.method = 93;
  e.mod_time = 0x1234;
  e.mod_date = 0x5678;
  e.crc32 = 0xDEADBEEF + unsigned(i);
  e.compressed_size = 5000000000ull + unsigned(i);
  e.uncompressed_size = 6000000000ull;
  e.lfh_offset = 7000000000ull + unsigned(i);
  e.internal_attr = 1;
  e.external_attr = 0100644u << 16;
  e.cd_zip64 = true;
  e.in_directory = true;
  e.cd_extra_malformed = true;
  e.cd_extra_refused_by = 0x2A;
  e.disk_start = 3;
  auto x = std::make_shared<scan::Entry::Extras>();
  x->cd_extra = std::string("\x55\x54\x05\x00\x01\x00\x00\x00\x00", 9);
  x->comment = "a comment";
  x->lfh_extra = "lfh";
  e.extras = x;
  scan::LocalClaim l;
  l.version_needed = 63;
  l.flags = 8;
  l.method = 8;
  l.crc32 = 42;
  l.compressed_size = 11;
  l.uncompressed_size = 12;
  l.zip64 = l.ff_without_zip64 = l.extra_malformed = l.name_differs = true;
  e.lfh = l;
  e.lfh_problem = scan::LocalProblem::cut;
  e.data_offset = 99;
  e.descriptor = scan::DataDescriptor{123, 4, 5, 6, 24};
  e.descriptor_cut = true;
  codec::DecodeResult d;
  d.status = codec::DecodeResult::Status::corrupt;
  d.consumed = 77;
  d.produced = 88;
  d.crc = 0xCAFE;
  d.error = "bad block";
  e.decoded = d;
  e.crypt = scan::CryptOutcome::auth_failed;
  e.cut_intact = 31;
  e.end_offset = 1234;
  e.next_record_follows = false;
  e.extent_known = false;
  e.status = report::EntryStatus::truncated;
  e.claims_from_directory = true;
  return e;
}

void same(const scan::Entry& a, const scan::Entry& b) {
  CHECK(a.name == b.name);
  CHECK(a.version_made_by == b.version_made_by);
  CHECK(a.version_needed == b.version_needed);
  CHECK(a.flags == b.flags);
  CHECK(a.method == b.method);
  CHECK(a.mod_time == b.mod_time);
  CHECK(a.mod_date == b.mod_date);
  CHECK(a.crc32 == b.crc32);
  CHECK(a.compressed_size == b.compressed_size);
  CHECK(a.uncompressed_size == b.uncompressed_size);
  CHECK(a.lfh_offset == b.lfh_offset);
  CHECK(a.internal_attr == b.internal_attr);
  CHECK(a.external_attr == b.external_attr);
  CHECK(a.cd_zip64 == b.cd_zip64);
  CHECK(a.in_directory == b.in_directory);
  CHECK(a.cd_extra_malformed == b.cd_extra_malformed);
  CHECK(a.cd_extra_refused_by == b.cd_extra_refused_by);
  CHECK(a.disk_start == b.disk_start);
  CHECK(a.cd_extra() == b.cd_extra());
  CHECK(a.comment() == b.comment());
  CHECK(a.lfh_extra() == b.lfh_extra());
  REQUIRE(a.lfh.has_value() == b.lfh.has_value());
  if (a.lfh) {
    CHECK(a.lfh->version_needed == b.lfh->version_needed);
    CHECK(a.lfh->flags == b.lfh->flags);
    CHECK(a.lfh->method == b.lfh->method);
    CHECK(a.lfh->crc32 == b.lfh->crc32);
    CHECK(a.lfh->compressed_size == b.lfh->compressed_size);
    CHECK(a.lfh->uncompressed_size == b.lfh->uncompressed_size);
    CHECK(a.lfh->zip64 == b.lfh->zip64);
    CHECK(a.lfh->ff_without_zip64 == b.lfh->ff_without_zip64);
    CHECK(a.lfh->extra_malformed == b.lfh->extra_malformed);
    CHECK(a.lfh->name_differs == b.lfh->name_differs);
  }
  CHECK(a.lfh_problem == b.lfh_problem);
  CHECK(a.data_offset == b.data_offset);
  REQUIRE(a.descriptor.has_value() == b.descriptor.has_value());
  if (a.descriptor) {
    CHECK(a.descriptor->offset == b.descriptor->offset);
    CHECK(a.descriptor->compressed_size == b.descriptor->compressed_size);
    CHECK(a.descriptor->uncompressed_size == b.descriptor->uncompressed_size);
    CHECK(a.descriptor->crc32 == b.descriptor->crc32);
    CHECK(a.descriptor->length == b.descriptor->length);
  }
  CHECK(a.descriptor_cut == b.descriptor_cut);
  REQUIRE(a.decoded.has_value() == b.decoded.has_value());
  if (a.decoded) {
    CHECK(a.decoded->status == b.decoded->status);
    CHECK(a.decoded->consumed == b.decoded->consumed);
    CHECK(a.decoded->produced == b.decoded->produced);
    CHECK(a.decoded->crc == b.decoded->crc);
    CHECK(a.decoded->error == b.decoded->error);
  }
  CHECK(a.crypt == b.crypt);
  CHECK(a.cut_intact == b.cut_intact);
  CHECK(a.end_offset == b.end_offset);
  CHECK(a.next_record_follows == b.next_record_follows);
  CHECK(a.extent_known == b.extent_known);
  CHECK(a.status == b.status);
  CHECK(a.claims_from_directory == b.claims_from_directory);
}

}  // namespace

TEST_CASE("an entry spilled to a temporary file comes back with every field") {
  for (std::size_t in_memory : {std::size_t(0), std::size_t(64), std::size_t(4) << 20}) {
    CAPTURE(in_memory);
    scan::EntrySpill spill("test.zip", in_memory);
    std::vector<scan::Entry> in;
    // Enough to go past the spill's buffer, a default entry among them.
    for (int i = 0; i < 5000; ++i) {
      in.push_back(i == 17 ? scan::Entry{} : unusual(i));
      spill.append(in.back());
    }
    CHECK(spill.count() == in.size());
    spill.seal();
    scan::EntrySpill::Reader rd(spill);
    same(spill.entry(rd, 17), in[17]);
    same(spill.entry(rd, 4999), in[4999]);
    same(spill.entry(rd, 3), in[3]);
    std::string name;
    spill.stored(rd, 12, name, nullptr);
    CHECK(name == in[12].name);
    std::size_t seen = 0, batches = 0;
    spill.each_batch(1000, [&](std::vector<scan::Entry>& batch) {
      ++batches;
      CHECK(batch.size() <= 1000);
      for (auto& e : batch) same(e, in[seen++]);
    });
    CHECK(seen == in.size());
    CHECK(batches == 5);
  }
}

TEST_CASE("a spill reads back what is still in its buffer and what is on disk") {
  io::Spill s("test.zip", 1024);
  std::string big(3u << 20, 'a');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  CHECK(s.append("head") == 0);
  CHECK(s.append(big) == 4);  // larger than the buffer: written straight through
  CHECK(s.append("tail") == 4 + big.size());
  CHECK(s.size() == 8 + big.size());
  auto back = s.read_vec(0, std::size_t(s.size()));
  CHECK(std::string(back.begin(), back.end()) == "head" + big + "tail");
  auto across = s.read_vec(2, 6);  // from the first piece into the second
  CHECK(std::string(across.begin(), across.end()) == "adabcd");
}

TEST_CASE("decode results a proof is handed are found by offset, in any order they came") {
  codec::KnownResults known;
  codec::DecodeResult d;
  for (std::uint64_t off : {100u, 300u, 200u, 50u, 400u}) {
    d.crc = std::uint32_t(off * 3);
    d.consumed = off + 1;
    d.produced = off + 2;
    known.add(off, d);
  }
  for (std::uint64_t off : {50u, 100u, 200u, 300u, 400u}) {
    auto r = known.find(off);
    REQUIRE(r);
    CHECK(r->crc == off * 3);
    CHECK(r->consumed == off + 1);
    CHECK(r->produced == off + 2);
    CHECK(r->status == codec::DecodeResult::Status::ok);
  }
  CHECK_FALSE(known.find(150));
  CHECK_FALSE(known.find(0));
  CHECK_FALSE(known.find(401));
}
