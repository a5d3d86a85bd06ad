// The fuzz target's driver where libFuzzer is not used (any compiler; `make test`):
//   fuzz_replay [--seconds N] [--seed S] [--crash-dir D] PATH...
// runs every input under PATH (a file, or every file of a directory), then, for N seconds,
// inputs made by mutating those (and random ones): bit flips, new bytes, inserted, deleted,
// repeated and spliced ranges. No coverage feedback: libFuzzer (`make fuzz`) does that. When
// an input fails, a signal handler writes it to D/fuzz-crash-<seed>-<n> (and names the file)
// before the process dies, so it can be minimised and kept in tests/fuzz_corpus.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMaxLen = 4096;

// What the signal handler writes: the input running now.
const Bytes* g_current = nullptr;
char g_crash_path[4096];

void OnCrash(int sig) {
  if (g_current) {
    int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, g_current->data(), g_current->size());
      (void)ignored;
      close(fd);
    }
    const char msg[] = "fuzz_replay: the failing input is in ";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    ignored = write(STDERR_FILENO, g_crash_path, strlen(g_crash_path));
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

bool ReadFile(const std::string& path, Bytes& out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  out.clear();
  std::uint8_t buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
    out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return true;
}

// Every file at path (a file, or the regular files of a directory, in name order).
bool Collect(const std::string& path, std::vector<std::string>& files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    files.push_back(path);
    return true;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return false;
  std::vector<std::string> found;
  while (dirent* e = readdir(dir)) {
    std::string file = path + "/" + e->d_name;
    if (e->d_name[0] != '.' && stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      found.push_back(file);
  }
  closedir(dir);
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return true;
}

void Mutate(Bytes& b, const std::vector<Bytes>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n ? static_cast<std::size_t>(rng() % n) : 0; };
  for (int m = 1 + static_cast<int>(pick(8)); m > 0; --m) {
    switch (pick(6)) {
      case 0:
        if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8));
        break;
      case 1:
        if (!b.empty()) b[pick(b.size())] = static_cast<std::uint8_t>(rng());
        break;
      case 2: {  // insert random bytes
        std::size_t at = pick(b.size() + 1), n = 1 + pick(16);
        Bytes add(n);
        for (auto& x : add) x = static_cast<std::uint8_t>(rng());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), add.begin(), add.end());
        break;
      }
      case 3:  // delete a range
        if (!b.empty()) {
          std::size_t at = pick(b.size()), n = 1 + pick(std::min<std::size_t>(16, b.size() - at));
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                  b.begin() + static_cast<std::ptrdiff_t>(at + n));
        }
        break;
      case 4:  // repeat a range (the same operations again)
        if (!b.empty()) {
          std::size_t at = pick(b.size()), n = 1 + pick(std::min<std::size_t>(64, b.size() - at));
          Bytes range(b.begin() + static_cast<std::ptrdiff_t>(at),
                      b.begin() + static_cast<std::ptrdiff_t>(at + n));
          for (std::size_t k = 1 + pick(4); k > 0; --k)
            b.insert(b.end(), range.begin(), range.end());
        }
        break;
      default:  // splice in part of another input
        if (!corpus.empty()) {
          const Bytes& other = corpus[pick(corpus.size())];
          if (!other.empty()) {
            std::size_t at = pick(other.size()), n = 1 + pick(other.size() - at);
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)),
                     other.begin() + static_cast<std::ptrdiff_t>(at),
                     other.begin() + static_cast<std::ptrdiff_t>(at + n));
          }
        }
        break;
    }
  }
  if (b.size() > kMaxLen) b.resize(kMaxLen);
}

int Usage() {
  std::fprintf(stderr, "usage: fuzz_replay [--seconds N] [--seed S] [--crash-dir D] PATH...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0;
  std::uint64_t seed =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string crash_dir = ".";
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--crash-dir" && has_value) {
      crash_dir = argv[++i];
    } else if (arg.starts_with("--")) {
      return Usage();
    } else if (!Collect(arg, files)) {
      std::fprintf(stderr, "fuzz_replay: cannot read %s\n", arg.c_str());
      return 2;
    }
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) signal(sig, OnCrash);

  std::vector<Bytes> corpus;
  for (const std::string& file : files) {
    Bytes b;
    if (!ReadFile(file, b)) {
      std::fprintf(stderr, "fuzz_replay: cannot read %s\n", file.c_str());
      return 2;
    }
    std::snprintf(g_crash_path, sizeof g_crash_path, "%s", file.c_str());
    g_current = &b;  // a failing corpus file names itself
    LLVMFuzzerTestOneInput(b.data(), b.size());
    corpus.push_back(std::move(b));
  }
  std::printf("fuzz_replay: %zu corpus inputs passed\n", corpus.size());
  if (seconds <= 0) return 0;

  std::printf("fuzz_replay: mutating for %g s, --seed %llu\n", seconds,
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::size_t runs = 0;
  Bytes input;
  g_current = &input;
  while (std::chrono::steady_clock::now() < end) {
    if (corpus.empty() || rng() % 4 == 0) {
      input.resize(1 + rng() % 512);
      for (auto& x : input) x = static_cast<std::uint8_t>(rng());
    } else {
      input = corpus[rng() % corpus.size()];
    }
    Mutate(input, corpus, rng);
    std::snprintf(g_crash_path, sizeof g_crash_path, "%s/fuzz-crash-%llu-%zu", crash_dir.c_str(),
                  static_cast<unsigned long long>(seed), runs);
    LLVMFuzzerTestOneInput(input.data(), input.size());
    ++runs;
    // Keep a few inputs to build longer sequences from (there is no coverage to choose by).
    if (corpus.size() < 2000 && rng() % 8 == 0) corpus.push_back(input);
  }
  std::printf("fuzz_replay: %zu mutated inputs passed\n", runs);
  return 0;
}
