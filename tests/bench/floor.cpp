// What the machine itself allows, for scripts/bench to print beside zipmedic's times:
//   zipmedic_floor drain              reads standard input and does nothing with it, the
//                                     fastest way found here (1 MiB pipe, 128 KiB reads into
//                                     one page-aligned buffer that stays in cache: 0.13 s for
//                                     246 MB, where a buffer 16 bytes into a page, as malloc
//                                     gives, or a buffer larger than the cache take 0.24-0.27 s);
//   zipmedic_floor inflate FILE OFF N decodes the raw deflate stream of N bytes at OFF with ISA-L
//                                     and its CRC-32, from memory, on one core, and prints the
//                                     decoding time alone ("seconds=").
// Neither checks anything: they are the floors a verifier cannot go below, not verifiers.
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

int drain() {
  (void)::fcntl(0, F_SETPIPE_SZ, 1 << 20);
  void* buf = std::aligned_alloc(4096, 128 << 10);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(0, buf, 128 << 10);
    if (n == 0) break;
    if (n < 0) {
      std::perror("zipmedic_floor: read");
      return 3;
    }
    total += std::uint64_t(n);
  }
  std::free(buf);
  std::printf("bytes=%llu\n", static_cast<unsigned long long>(total));
  return 0;
}

int inflate(const char* path, std::uint64_t offset, std::uint64_t n) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) {
    std::perror(path);
    return 3;
  }
  std::unique_ptr<std::uint8_t[]> in(new std::uint8_t[n]);
  for (std::uint64_t got = 0; got < n;) {
    ssize_t r = ::pread(fd, in.get() + got, n - got, off_t(offset + got));
    if (r <= 0) {
      std::fprintf(stderr, "zipmedic_floor: %s: short read at %llu\n", path, static_cast<unsigned long long>(offset + got));
      return 3;
    }
    got += std::uint64_t(r);
  }
  ::close(fd);
  // The same output buffer size as zipmedic's decoder (256 KiB), so the CRC runs on data in cache.
  std::vector<std::uint8_t> out(256 << 10);
  auto start = std::chrono::steady_clock::now();
  inflate_state st;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_GZIP_NO_HDR;
  st.next_in = in.get();
  st.avail_in = std::uint32_t(std::min<std::uint64_t>(n, 1u << 30));
  std::uint64_t fed = st.avail_in, produced = 0;
  for (;;) {
    if (st.avail_in == 0 && fed < n) {
      std::uint32_t more = std::uint32_t(std::min<std::uint64_t>(n - fed, 1u << 30));
      st.next_in = in.get() + fed;
      st.avail_in = more;
      fed += more;
    }
    st.next_out = out.data();
    st.avail_out = std::uint32_t(out.size());
    int ret = isal_inflate(&st);
    produced += out.size() - st.avail_out;
    if (ret < 0) {
      std::fprintf(stderr, "zipmedic_floor: deflate error %d after %llu bytes\n", ret,
                   static_cast<unsigned long long>(produced));
      return 1;
    }
    if (st.block_state == ISAL_BLOCK_FINISH) break;
    if (st.avail_in == 0 && fed >= n && st.avail_out == out.size()) {
      std::fprintf(stderr, "zipmedic_floor: the stream does not end within %llu bytes\n",
                   static_cast<unsigned long long>(n));
      return 1;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seconds=%.6f produced=%llu crc=%08x\n", s, static_cast<unsigned long long>(produced), st.crc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "drain") == 0) return drain();
  if (argc == 5 && std::strcmp(argv[1], "inflate") == 0)
    return inflate(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
  std::fprintf(stderr, "usage: zipmedic_floor drain | inflate FILE OFFSET LENGTH\n");
  return 2;
}
