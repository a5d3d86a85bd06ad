#include "report.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace halloc {

void Fatal(const char* what, const char* problem, const void* p) {
  char msg[160];
  char* out = msg;
  auto append = [&](const char* s) {
    while (*s && out < msg + sizeof(msg) - 20) *out++ = *s++;
  };
  append("halloc: ");
  append(what);
  append("(): ");
  append(problem);
  append(" 0x");
  auto v = reinterpret_cast<std::uintptr_t>(p);
  for (int shift = 60; shift >= 0; shift -= 4) *out++ = "0123456789abcdef"[(v >> shift) & 15];
  *out++ = '\n';
  ssize_t ignored = write(STDERR_FILENO, msg, static_cast<std::size_t>(out - msg));
  (void)ignored;
  abort();
}

void FreedPointer(const char* what, const void* p) {
  Fatal(what, std::strcmp(what, "free") == 0 ? "double free of" : "freed pointer", p);
}

}  // namespace halloc
