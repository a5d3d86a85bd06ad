#!/usr/bin/env bash
# Real programs under LD_PRELOAD=<halloc .so> give the same output as with the system allocator.
# Usage: real_programs.sh <path to libhalloc*.so> [<git repository>]
# Each program runs twice back to back, without and with the preload, and the outputs must match.
set -uo pipefail

so=${1:?usage: real_programs.sh <libhalloc.so> [repo]}
repo=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
python=/usr/bin/python3
[ -f "$so" ] || { echo "FAIL: no such library: $so"; exit 1; }
so=$(realpath "$so")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# Runs "$@" without and with the preload; compares exit status and stdout.
same() {
  local name=$1
  shift
  local plain_rc preload_rc
  "$@" >"$tmp/$name.plain" 2>"$tmp/$name.plain.err"
  plain_rc=$?
  LD_PRELOAD=$so "$@" >"$tmp/$name.preload" 2>"$tmp/$name.preload.err"
  preload_rc=$?
  if [ "$plain_rc" != "$preload_rc" ]; then
    echo "FAIL $name: exit $plain_rc without halloc, $preload_rc with it"
    tail -5 "$tmp/$name.preload.err"
    failures=$((failures + 1))
  elif ! cmp -s "$tmp/$name.plain" "$tmp/$name.preload"; then
    echo "FAIL $name: output differs"
    diff "$tmp/$name.plain" "$tmp/$name.preload" | head -10
    failures=$((failures + 1))
  elif grep -q "halloc:" "$tmp/$name.preload.err"; then
    echo "FAIL $name: halloc complained"
    grep "halloc:" "$tmp/$name.preload.err" | head -5
    failures=$((failures + 1))
  else
    echo "ok   $name ($(wc -c <"$tmp/$name.plain") bytes of output, exit $plain_rc)"
  fi
}

# The preload must really be in effect: halloc's introspection symbol is visible to python.
check_loaded() {
  local variant
  variant=$(LD_PRELOAD=$so $python -c '
import ctypes
lib = ctypes.CDLL(None)
class P(ctypes.Structure):
    _fields_ = [("variant", ctypes.c_char_p), ("superblock_size", ctypes.c_size_t),
                ("growth", ctypes.c_double), ("empty_fraction", ctypes.c_double)] + [
                (n, ctypes.c_size_t) for n in ("slack", "heaps", "classes", "large", "reserve")]
p = P()
lib.halloc_get_params(ctypes.byref(p))
print(p.variant.decode())' 2>&1)
  local expected
  expected=$(basename "$so")
  expected=${expected#lib}
  expected=${expected%%.so*}
  if [ "$variant" != "$expected" ]; then
    echo "FAIL: halloc not loaded by LD_PRELOAD ($variant, expected $expected)"
    exit 1
  fi
  echo "ok   preload serves $variant"
}
check_loaded

# A C program that preloads halloc loads no C++ runtime (it would cost it 1-2 MiB of RSS).
maps=$(LD_PRELOAD=$so cat /proc/self/maps)
if ! grep -q "$(basename "$so")" <<<"$maps"; then
  echo "FAIL: $so is not mapped into cat"
  failures=$((failures + 1))
elif grep -qE 'libstdc\+\+|libgcc_s' <<<"$maps"; then
  echo "FAIL: a C program under $so loads the C++ runtime:"
  grep -oE '/[^ ]*(libstdc\+\+|libgcc_s)[^ ]*' <<<"$maps" | sort -u
  failures=$((failures + 1))
else
  echo "ok   no C++ runtime in a C program"
fi

# Python: dicts, lists, string joins, a JSON round trip; prints a digest.
cat >"$tmp/alloc.py" <<'EOF'
import hashlib, json
h = hashlib.sha256()
d = {}
for i in range(200000):
    d["key%d" % i] = [i, str(i) * (i % 7), {"n": i}]
for i in range(0, 200000, 3):
    del d["key%d" % i]
s = "".join(str(v[0]) for v in d.values())
h.update(s.encode())
blob = json.dumps(d, sort_keys=True)
back = json.loads(blob)
assert back == json.loads(json.dumps(back))
h.update(blob.encode())
words = sorted((w * 3 for w in s[:100000].split("7")), key=len)
h.update(" ".join(words).encode())
print(len(d), len(blob), h.hexdigest())
EOF
same python $python "$tmp/alloc.py"

sum=$(LD_PRELOAD=$so $python -c 'print(sum(range(10**6)))')
if [ "$sum" = 499999500000 ]; then echo "ok   python sum"; else
  echo "FAIL python sum: $sum"
  failures=$((failures + 1))
fi

# sort over 200k generated lines, compared by checksum.
$python -c '
import random
r = random.Random(1)
for i in range(200000):
    print("%08x %s" % (r.getrandbits(32), "x" * r.randrange(60)))' >"$tmp/lines.txt"
same sort bash -c "sort '$tmp/lines.txt' | md5sum"
same sort_numeric bash -c "sort -k2,2 -k1,1r '$tmp/lines.txt' | md5sum"

# git on the repository (which may change meanwhile: each pair of runs is back to back).
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  same git_log bash -c "git -C '$repo' log --oneline | head -50"
  same git_status git -C "$repo" status --porcelain
  same git_count git -C "$repo" rev-list --count HEAD
  same git_index bash -c "git -C '$repo' ls-files -s | md5sum"
  same git_log_stat bash -c "git -C '$repo' log --stat -30 HEAD | md5sum"
else
  echo "skip git: $repo is not a git repository"
fi

# cmake configure of a tiny C project: same exit status and the expected cache entries.
mkdir -p "$tmp/proj"
cat >"$tmp/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(tiny C)
set(TINY_OPTION "on" CACHE STRING "an option")
add_executable(tiny main.c)
EOF
echo 'int main(void) { return 0; }' >"$tmp/proj/main.c"
configure() {
  rm -rf "$tmp/proj/build-$1"
  cmake -S "$tmp/proj" -B "$tmp/proj/build-$1" >/dev/null 2>&1 || return $?
  grep -E '^(CMAKE_PROJECT_NAME|TINY_OPTION|CMAKE_C_COMPILER):' "$tmp/proj/build-$1/CMakeCache.txt" |
    sed 's/^CMAKE_C_COMPILER:[A-Z]*=.*/CMAKE_C_COMPILER found/'
}
plain_cfg=$(configure plain)
plain_rc=$?
preload_cfg=$(LD_PRELOAD=$so bash -c "$(declare -f configure); tmp='$tmp'; configure preload")
preload_rc=$?
expected=$'CMAKE_C_COMPILER found\nCMAKE_PROJECT_NAME:STATIC=tiny\nTINY_OPTION:STRING=on'
if [ $plain_rc != 0 ] || [ $preload_rc != 0 ]; then
  echo "FAIL cmake: exit $plain_rc without halloc, $preload_rc with it"
  failures=$((failures + 1))
elif [ "$(sort <<<"$preload_cfg")" != "$expected" ] || [ "$plain_cfg" != "$preload_cfg" ]; then
  echo "FAIL cmake: cache entries differ:"
  echo "$plain_cfg"
  echo "--- with halloc:"
  echo "$preload_cfg"
  failures=$((failures + 1))
else
  echo "ok   cmake configure"
fi

if [ $failures -ne 0 ]; then
  echo "$failures real-program check(s) failed under $so"
  exit 1
fi
echo "all real programs agree under $so"
