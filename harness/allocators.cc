#include "harness/allocators.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <gnu/libc-version.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "harness/cli_args.h"

namespace allocbench {

namespace fs = std::filesystem;

namespace {

// Where a known allocator's library may be, and the Debian package that provides it.
struct Candidate {
  std::string name;
  std::vector<std::string> file_names;
  std::string package;
};

const std::vector<Candidate>& peer_candidates() {
  static const std::vector<Candidate> candidates = {
      {"jemalloc", {"libjemalloc.so.2", "libjemalloc.so"}, "libjemalloc2"},
      {"tcmalloc",
       {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so"},
       "libtcmalloc-minimal4"},
      {"mimalloc", {"libmimalloc.so.2", "libmimalloc.so"}, "libmimalloc2.0"},
      // tbbmalloc replaces malloc only through its proxy library.
      {"tbbmalloc", {"libtbbmalloc_proxy.so.2", "libtbbmalloc_proxy.so"}, "libtbbmalloc2"},
  };
  return candidates;
}

std::vector<std::string> library_directories() {
  std::vector<std::string> directories;
  if (const char* extra = std::getenv("LD_LIBRARY_PATH")) {
    std::string list = extra;
    size_t start = 0;
    while (start <= list.size()) {
      const size_t colon = list.find(':', start);
      const std::string item = list.substr(start, colon - start);
      if (!item.empty()) directories.push_back(item);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  for (const char* directory :
       {"/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
        "/usr/lib", "/lib64", "/lib"}) {
    directories.push_back(directory);
  }
  return directories;
}

// Output of a command without a shell (arguments are ours or a resolved path); "" on failure.
std::string command_output(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) line += "'" + arg + "' ";
  line += "2>/dev/null";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string output;
  std::array<char, 256> buffer;
  while (size_t read = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    output.append(buffer.data(), read);
  }
  if (pclose(pipe) != 0) return "";
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}

// The Debian package version owning a library, else the version suffix of its real file name.
std::optional<std::string> library_version(const std::string& path) {
  std::error_code error;
  const std::string real = fs::canonical(path, error).string();
  if (path.find('\'') == std::string::npos && real.find('\'') == std::string::npos) {
    const std::string owner = command_output({"dpkg-query", "-S", real});
    const size_t colon = owner.find(": ");
    if (!owner.empty() && colon != std::string::npos) {
      const std::string package = owner.substr(0, colon);
      const std::string version = command_output({"dpkg-query", "-W", "-f=${Version}", package});
      if (!version.empty()) return version;
    }
  }
  const size_t so = real.rfind(".so.");
  if (!error && so != std::string::npos) return real.substr(so + 4);
  return std::nullopt;
}

bool is_path_spec(const std::string& spec) {
  return spec.find('/') != std::string::npos || spec.find(".so") != std::string::npos;
}

// "/x/libstudent.so.1" -> "libstudent"
std::string name_from_path(const std::string& path) {
  std::string file = fs::path(path).filename().string();
  const size_t so = file.find(".so");
  return so == std::string::npos || so == 0 ? file : file.substr(0, so);
}

AllocatorInfo from_path(const std::string& name, const std::string& path) {
  AllocatorInfo info;
  info.name = name;
  info.path = path;
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    info.note = fmt::format("no such file: {}", path);
    return info;
  }
  info.path = fs::absolute(path, error).string();
  info.found = true;
  return info;
}

AllocatorInfo halloc_variant(const std::string& name) {
  const std::string path = fmt::format("{}/../lib/lib{}.so", executable_directory(), name);
  AllocatorInfo info;
  info.name = name;
  std::error_code error;
  if (!fs::exists(path, error)) {
    info.note = fmt::format("lib{}.so not built next to allocbench ({}); run `make build`", name,
                            fs::weakly_canonical(path, error).string());
    return info;
  }
  info.path = fs::absolute(path, error).lexically_normal().string();
  info.found = true;
  info.version = library_version(*info.path);
  return info;
}

AllocatorInfo peer(const Candidate& candidate) {
  for (const std::string& directory : library_directories()) {
    for (const std::string& file : candidate.file_names) {
      const std::string path = directory + "/" + file;
      std::error_code error;
      if (fs::exists(path, error)) {
        return {.name = candidate.name,
                .path = path,
                .version = library_version(path),
                .found = true,
                .note = std::nullopt};
      }
    }
  }
  return {.name = candidate.name,
          .path = std::nullopt,
          .version = std::nullopt,
          .found = false,
          .note = fmt::format("{} not found (apt-get install {})", candidate.file_names.front(),
                              candidate.package)};
}

}  // namespace

const std::vector<std::string>& known_allocator_names() {
  static const std::vector<std::string> names = {"halloc",   "halloc-paper", "halloc-serial",
                                                 "glibc",    "jemalloc",     "tcmalloc",
                                                 "mimalloc", "tbbmalloc"};
  return names;
}

const std::vector<std::string>& halloc_ablation_names() {
  static const std::vector<std::string> names = {"halloc-abl-s64k", "halloc-abl-heaps",
                                                 "halloc-abl-cache"};
  return names;
}

AllocatorInfo resolve_allocator(const std::string& spec) {
  const size_t equals = spec.find('=');
  if (equals != std::string::npos) {
    const std::string name = spec.substr(0, equals);
    if (name.empty() || equals + 1 == spec.size()) {
      throw UsageError(fmt::format("--allocators: '{}' should be NAME=PATH", spec));
    }
    return from_path(name, spec.substr(equals + 1));
  }
  if (is_path_spec(spec)) return from_path(name_from_path(spec), spec);
  if (spec == "glibc") {
    return {.name = "glibc",
            .path = std::nullopt,
            .version = std::string(gnu_get_libc_version()),
            .found = true,
            .note = "the system malloc (no LD_PRELOAD)"};
  }
  if (spec == "halloc" || spec == "halloc-paper" || spec == "halloc-serial" ||
      spec.starts_with("halloc-abl-") || spec.starts_with("halloc-paper-f")) {
    return halloc_variant(spec);
  }
  for (const Candidate& candidate : peer_candidates()) {
    if (candidate.name == spec) return peer(candidate);
  }
  std::string known;
  for (const std::string& name : known_allocator_names())
    known += (known.empty() ? "" : ", ") + name;
  for (const std::string& name : halloc_ablation_names()) known += ", " + name;
  throw UsageError(fmt::format(
      "--allocators: unknown allocator '{}' (known: {}; or give a path to a .so)", spec, known));
}

std::vector<AllocatorInfo> resolve_allocators(const std::vector<std::string>& specs) {
  std::vector<AllocatorInfo> allocators;
  for (const std::string& spec : specs) {
    AllocatorInfo allocator = resolve_allocator(spec);
    for (const AllocatorInfo& before : allocators) {
      if (before.name == allocator.name) {
        throw UsageError(fmt::format(
            "--allocators: two allocators are named '{}' (give one as NAME=PATH)", before.name));
      }
    }
    allocators.push_back(std::move(allocator));
  }
  return allocators;
}

std::string executable_path() {
  std::error_code error;
  return fs::read_symlink("/proc/self/exe", error).string();
}

std::string executable_directory() {
  return fs::path(executable_path()).parent_path().string();
}

namespace {

// LD_PRELOAD's first library, past the false-sharing tracer (which forwards to the next one) and
// valgrind's own preloads (which it puts first); "" when none.
std::string preloaded_library() {
  const char* preload = std::getenv("LD_PRELOAD");
  std::string list = preload == nullptr ? "" : preload;
  while (true) {
    const size_t start = list.find_first_not_of(": ");
    if (start == std::string::npos) return "";
    list = list.substr(start);
    const std::string first = list.substr(0, list.find_first_of(": "));
    const std::string file = fs::path(first).filename().string();
    if (file != "libsharetrace.so" && !file.starts_with("vgpreload_")) return first;
    list = list.substr(first.size());
  }
}

// The C library's file as the loader names it; "" when dladdr cannot tell.
std::string c_library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&gnu_get_libc_version), &info) == 0 || !info.dli_fname)
    return "";
  return info.dli_fname;
}

// The name a run under `library` reports: a known allocator's (libjemalloc.so.2 -> jemalloc),
// halloc's variants' (libhalloc-paper.so -> halloc-paper), else the file's up to ".so".
std::string allocator_name_of(const std::string& library) {
  const std::string file = fs::path(library).filename().string();
  for (const Candidate& candidate : peer_candidates()) {
    for (const std::string& known_file : candidate.file_names) {
      if (file == known_file) return candidate.name;
    }
  }
  const std::string name = name_from_path(library);
  return name.starts_with("libhalloc") ? name.substr(3) : name;
}

}  // namespace

std::string preloaded_allocator_name() {
  const std::string first = preloaded_library();
  // glibc's runs name the C library the same way, so every run takes the same steps (see
  // preload_problem), and then report glibc.
  const std::string name = allocator_name_of(first.empty() ? c_library_path() : first);
  return first.empty() ? "glibc" : name;
}

std::string preload_problem() {
  const std::string first = preloaded_library();
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload != nullptr && std::string(preload).find("libsharetrace.so") != std::string::npos) {
    // Traced: malloc is the tracer's, which forwards to the allocator's, or with nothing else
    // preloaded to the C library's; the allocator must still be loaded and define malloc.
    if (first.empty()) return "";
    void* handle = dlopen(first.c_str(), RTLD_NOLOAD | RTLD_LAZY);
    if (handle == nullptr) return fmt::format("the preloaded {} is not loaded", first);
    const bool serves = dlsym(handle, "malloc") != nullptr;
    dlclose(handle);
    return serves ? "" : fmt::format("the preloaded {} defines no malloc", first);
  }
  // With nothing preloaded malloc must be the C library's. The check runs for every allocator,
  // glibc too: its code (dladdr, std::filesystem) faults in about 300 KiB of the driver's and
  // the C++ library's pages, which count in every run's peak RSS, so glibc must pay them too.
  Dl_info info{};
  void* malloc_symbol = dlsym(RTLD_DEFAULT, "malloc");
  if (malloc_symbol == nullptr || dladdr(malloc_symbol, &info) == 0 || info.dli_fname == nullptr) {
    return "cannot tell which library serves malloc";
  }
  const std::string wanted_library = first.empty() ? c_library_path() : first;
  if (wanted_library.empty()) return "cannot tell where the C library is";
  std::error_code error;
  const fs::path serving = fs::canonical(info.dli_fname, error);
  const fs::path wanted = fs::canonical(wanted_library, error);
  if (error || serving != wanted) {
    return fmt::format("malloc is served by {}, not by {} (did it fail to load?)", info.dli_fname,
                       first.empty() ? "the C library" : "the preloaded " + first);
  }
  return "";
}

}  // namespace allocbench
