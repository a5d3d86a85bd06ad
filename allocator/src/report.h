// Fatal reports. They write with write(2) only: stdio may allocate, and the heap may be corrupt.
#pragma once

namespace halloc {

// "halloc: <what>(): <problem> 0x<p>", then abort().
[[gnu::cold, noreturn]] void Fatal(const char* what, const char* problem, const void* p);

// "halloc: <what>(): invalid pointer 0x...": p is not a block halloc handed out.
[[gnu::cold, noreturn]] inline void InvalidPointer(const char* what, const void* p) {
  Fatal(what, "invalid pointer", p);
}
// "halloc: <what>(): double free of 0x..." (or "freed pointer" for calls other than a free):
// p was a block halloc handed out, and it has been freed since.
[[gnu::cold, noreturn]] void FreedPointer(const char* what, const void* p);

}  // namespace halloc
