// The allocator's internal C++ API: what the exported libc names (exports.cc) call, and what
// unit and sanitizer tests call directly when they link a `<variant>_core` library beside the
// system malloc. Every function here follows the glibc semantics documented in exports.cc.
#pragma once

#include <cstddef>

namespace halloc {

void* Malloc(std::size_t size);
void Free(void* p);
void* Calloc(std::size_t count, std::size_t size);
void* Realloc(void* p, std::size_t size);
// Alignment must be a power of two (callers check); returns nullptr + ENOMEM when it cannot.
void* AlignedAlloc(std::size_t alignment, std::size_t size);
// Bytes usable at p (at least what was asked), for any pointer halloc handed out.
std::size_t UsableSize(const void* p);
// free(p) after checking that `size` fits the block (C23 free_sized).
void FreeSized(void* p, std::size_t size);

}  // namespace halloc
