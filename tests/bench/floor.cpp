// What the machine itself allows, for scripts/bench to print beside zipmedic's times:
//   zipmedic_floor drain              reads standard input and does nothing with it, the
//                                     fastest way found here (1 MiB pipe, 128 KiB reads into
//                                     one page-aligned buffer that stays in cache: 0.13 s for
//                                     246 MB, where a buffer 16 bytes into a page, as malloc
//                                     gives, or a buffer larger than the cache take 0.24-0.27 s);
//   zipmedic_floor inflate FILE OFF N decodes the raw deflate stream of N bytes at OFF with ISA-L
//                                     and its CRC-32, from memory, on one core, and prints the
//                                     decoding time alone ("seconds=");
//   zipmedic_floor inflate-all FILE LIST THREADS
//                                     the same for every entry listed in LIST (lines "offset
//                                     length method", method 0 stored or 8 deflate), on THREADS
//                                     threads taking entries in turn: the bare loop that a
//                                     verifier's decoding cannot beat.
// Neither checks anything: they are the floors a verifier cannot go below, not verifiers.
#include <fcntl.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
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

// Decodes one raw deflate stream (or CRCs stored bytes); returns the CRC, or -1 on error.
long long decode_one(const std::uint8_t* in, std::uint64_t n, int method, std::vector<std::uint8_t>& out,
                     std::uint64_t* produced) {
  if (method == 0) {
    *produced = n;
    return crc32_gzip_refl(0, in, n);
  }
  inflate_state st;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_GZIP_NO_HDR;
  st.next_in = const_cast<std::uint8_t*>(in);
  st.avail_in = std::uint32_t(std::min<std::uint64_t>(n, 1u << 30));
  std::uint64_t fed = st.avail_in;
  *produced = 0;
  for (;;) {
    if (st.avail_in == 0 && fed < n) {
      std::uint32_t more = std::uint32_t(std::min<std::uint64_t>(n - fed, 1u << 30));
      st.next_in = const_cast<std::uint8_t*>(in) + fed;
      st.avail_in = more;
      fed += more;
    }
    st.next_out = out.data();
    st.avail_out = std::uint32_t(out.size());
    int ret = isal_inflate(&st);
    *produced += out.size() - st.avail_out;
    if (ret < 0) return -1;
    if (st.block_state == ISAL_BLOCK_FINISH) return st.crc;
    if (st.avail_in == 0 && fed >= n && st.avail_out == out.size()) return -1;
  }
}

int inflate_all(const char* path, const char* list, unsigned threads) {
  struct Job {
    std::uint64_t offset, length;
    int method;
  };
  std::vector<Job> jobs;
  if (FILE* f = std::fopen(list, "r")) {
    unsigned long long o, l;
    int m;
    while (std::fscanf(f, "%llu %llu %d", &o, &l, &m) == 3) jobs.push_back({o, l, m});
    std::fclose(f);
  }
  int fd = ::open(path, O_RDONLY);
  if (fd < 0 || jobs.empty()) {
    std::fprintf(stderr, "zipmedic_floor: cannot read %s or %s\n", path, list);
    return 3;
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  std::unique_ptr<std::uint8_t[]> data(new std::uint8_t[std::size_t(size)]);
  for (off_t got = 0; got < size;) {
    ssize_t r = ::pread(fd, data.get() + got, std::size_t(size - got), got);
    if (r <= 0) return 3;
    got += r;
  }
  ::close(fd);
  std::atomic<std::size_t> next{0};
  std::atomic<int> errors{0};
  auto start = std::chrono::steady_clock::now();
  auto work = [&] {
    std::vector<std::uint8_t> out(256 << 10);
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      std::uint64_t produced = 0;
      if (decode_one(data.get() + jobs[i].offset, jobs[i].length, jobs[i].method, out, &produced) < 0) ++errors;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seconds=%.6f entries=%zu errors=%d\n", s, jobs.size(), errors.load());
  return errors ? 1 : 0;
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
  if (argc == 5 && std::strcmp(argv[1], "inflate-all") == 0)
    return inflate_all(argv[2], argv[3], unsigned(std::strtoul(argv[4], nullptr, 10)));
  if (argc == 5 && std::strcmp(argv[1], "inflate") == 0)
    return inflate(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
  std::fprintf(stderr, "usage: zipmedic_floor drain | inflate FILE OFFSET LENGTH | inflate-all FILE LIST THREADS\n");
  return 2;
}
