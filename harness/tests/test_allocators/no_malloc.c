// A "student allocator" that exports no malloc at all: the loader preloads it and glibc goes on
// serving every allocation. The gate must say so rather than grade glibc under its name.
int toy_allocator_version(void) {
  return 1;
}
