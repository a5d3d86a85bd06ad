// CPython's input: dicts, string building, json and regex over generated records, split across
// a number of threads given as argv[1]; it prints the same checksums whatever the thread count.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string python_script(int64_t scale) {
  return fmt::format("SCALE = {}\n", scale) + R"(
import json, re, sys, threading, zlib

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
ITEMS = 4000 * SCALE
PATTERN = re.compile(r"(\w+)-(\d+)@([a-z]+)\.example")

def record(i):
    return {"id": i, "name": "user%d" % (i * 2654435761 % 100003),
            "tags": ["t%d" % (i % k) for k in range(2, 9)],
            "mail": "n%d-%d@%s.example" % (i % 97, i, "abcdefghij"[i % 10] * (1 + i % 5)),
            "score": (i * 7919) % 1000 / 10.0}

def work(first, last, results, slot):
    index, total, words = {}, 0, []
    for i in range(first, last):
        r = record(i)
        text = json.dumps(r, sort_keys=True)
        back = json.loads(text)
        m = PATTERN.search(back["mail"])
        key = m.group(3) + ":" + m.group(2)[-2:]
        index.setdefault(key, []).append(back["name"])
        words.append(text.upper()[: 20 + i % 40])
        if len(words) >= 300:
            total = zlib.crc32(" ".join(words).encode(), total)
            words = []
    total = zlib.crc32(" ".join(words).encode(), total)
    results[slot] = (total, sorted((k, len(v)) for k, v in index.items()))

bounds = [ITEMS * t // THREADS for t in range(THREADS + 1)]
results = [None] * THREADS
threads = [threading.Thread(target=work, args=(bounds[t], bounds[t + 1], results, t))
           for t in range(THREADS)]
for t in threads: t.start()
for t in threads: t.join()

# The same answer for every thread count: merge per-key counts, xor nothing order-dependent.
counts = {}
for _, pairs in results:
    for k, n in pairs: counts[k] = counts.get(k, 0) + n
print("keys", len(counts), "items", sum(counts.values()))
print("digest", zlib.crc32(json.dumps(sorted(counts.items())).encode()))
)";
}

}  // namespace allocbench::programs
