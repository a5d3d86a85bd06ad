#!/usr/bin/env bash
# Installs the Debian packages halloc needs, only those that are missing.
# As root it runs apt-get; otherwise it names the packages and exits non-zero.
set -euo pipefail

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
[ ${#missing[@]} -eq 0 ] && { echo "deps: all ${#packages[@]} packages present"; exit 0; }

echo "deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# linux-perf, valgrind and libFuzzer's runtime (`make fuzz` only) are optional extras: install the
# rest even if one of them is unavailable.
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  apt-get install -y -q --no-install-recommends $(printf '%s\n' "${missing[@]}" |
    grep -vx -e linux-perf -e valgrind -e libclang-rt-14-dev)
