// Fatal reports. They write with write(2) only: stdio may allocate, and the heap may be corrupt.
#pragma once

namespace halloc {

// "halloc: <what>(): invalid pointer 0x...", then abort().
[[gnu::cold, noreturn]] void InvalidPointer(const char* what, const void* p);

}  // namespace halloc
