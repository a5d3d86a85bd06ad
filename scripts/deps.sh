#!/usr/bin/env bash
# Installs the Debian packages halloc needs, only those that are missing.
# As root it runs apt-get; otherwise it names the packages and exits non-zero.
# The real programs measured by `make bench SUITE=programs` are an optional group: installed
# when possible, and a failure there never fails deps (their runs are then recorded as
# skipped, naming the package).
set -euo pipefail

programs=(redis-server redis-tools sqlite3 ghostscript lua5.4 python3 g++ z3 ruby)

install_programs() {
  local absent=()
  for p in "${programs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || absent+=("$p")
  done
  [ ${#absent[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: optional programs missing (their runs will be skipped): ${absent[*]}" >&2
    return 0
  fi
  echo "deps: installing the optional programs: ${absent[*]}"
  apt-get update -q || true
  apt-get install -y -q --no-install-recommends "${absent[@]}" ||
    for p in "${absent[@]}"; do
      apt-get install -y -q --no-install-recommends "$p" || echo "deps: could not install $p (its runs will be skipped)" >&2
    done
  return 0
}

packages=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev nlohmann-json3-dev
  python3 python3-matplotlib python3-pandas python3-pytest
  libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 libtbbmalloc2
  linux-perf valgrind clang-format clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  install_programs || true
  exit 0
fi

echo "deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# linux-perf and libFuzzer's runtime (`make fuzz` only) are optional extras: install the rest even
# if one of them is unavailable. valgrind is not: `make test` runs `allocbench instructions` under
# callgrind, so deps fails where valgrind cannot be installed.
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  apt-get install -y -q --no-install-recommends $(printf '%s\n' "${missing[@]}" |
    grep -vx -e linux-perf -e libclang-rt-14-dev)
install_programs || true
