#include "io/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace zm::io {

void advise_huge_pages(void* p, std::size_t bytes) {
  constexpr std::uintptr_t kHuge = 2u << 20;
  const auto from = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto to = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
}

}  // namespace zm::io
