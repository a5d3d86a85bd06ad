#include "report.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace halloc {

void InvalidPointer(const char* what, const void* p) {
  char msg[96];
  char* out = msg;
  for (const char* s = "halloc: "; *s;) *out++ = *s++;
  for (const char* s = what; *s;) *out++ = *s++;
  for (const char* s = "(): invalid pointer 0x"; *s;) *out++ = *s++;
  auto v = reinterpret_cast<std::uintptr_t>(p);
  for (int shift = 60; shift >= 0; shift -= 4) *out++ = "0123456789abcdef"[(v >> shift) & 15];
  *out++ = '\n';
  ssize_t ignored = write(STDERR_FILENO, msg, static_cast<std::size_t>(out - msg));
  (void)ignored;
  abort();
}

}  // namespace halloc
