#include "cli/version.h"

#include <archive.h>
#include <bzlib.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <isa-l.h>
#include <lzma.h>
#include <openssl/crypto.h>
#include <zlib.h>
#include <zstd.h>

#include <climits>
#include <cstdlib>

#include <fmt/format.h>

namespace zm::cli {

namespace {

// ISA-L has no function that says its version: the file the loader mapped for isal_inflate
// does (libisal.so.2.0.30 is ISA-L 2.30), with the version its headers gave at build time.
std::string isal_version() {
  const std::string built = fmt::format("{}.{}.{}", ISAL_MAJOR_VERSION, ISAL_MINOR_VERSION, ISAL_PATCH_VERSION);
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&isal_inflate), &info) == 0 || !info.dli_fname)
    return "built with " + built;
  char real[PATH_MAX];
  std::string file = ::realpath(info.dli_fname, real) ? real : info.dli_fname;
  if (auto slash = file.rfind('/'); slash != std::string::npos) file.erase(0, slash + 1);
  return fmt::format("{} (built with {})", file, built);
}

}  // namespace

std::string version_text() {
  std::string out = fmt::format("zipmedic {}\n", ZIPMEDIC_VERSION);
  out += fmt::format("zlib {}\n", zlibVersion());
  out += fmt::format("ISA-L {}\n", isal_version());
  // "libarchive 3.6.2 zlib/1.2.13 liblzma/5.4.1 bz2lib/1.0.8 libzstd/1.5.4": with the codecs it
  // was itself built with.
  out += fmt::format("{}\n", archive_version_details());
  out += fmt::format("{}\n", OpenSSL_version(OPENSSL_VERSION));
  out += fmt::format("bzip2 {}\n", BZ2_bzlibVersion());
  out += fmt::format("xz {}\n", lzma_version_string());
  out += fmt::format("zstd {}\n", ZSTD_versionString());
  out += fmt::format("libcurl {}", curl_version_info(CURLVERSION_NOW)->version);  // CLI11 ends the last line
  return out;
}

}  // namespace zm::cli
