#include "page_map.h"

#include "os.h"

namespace halloc {

constinit PageMap g_page_map;

bool PageMap::Set(const void* granule, std::uintptr_t value) {
  const std::uintptr_t key = KeyOf(granule);
  if (key >> kKeyBits) return false;
  std::atomic<Leaf*>& slot = root_[key >> kLeafBits];
  Leaf* leaf = slot.load(std::memory_order_acquire);
  if (leaf == nullptr) {
    // Racing threads may both map a leaf; the loser unmaps its own.
    auto* fresh = static_cast<Leaf*>(OsMap(sizeof(Leaf), kPageSize, MapPurpose::kMetadata));
    if (fresh == nullptr) return false;
    if (slot.compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      leaf = fresh;
    } else {
      OsUnmap(fresh, sizeof(Leaf), MapPurpose::kMetadata);
    }
  }
  leaf->slot[key & (kLeafSize - 1)].store(value, std::memory_order_release);
  return true;
}

}  // namespace halloc
