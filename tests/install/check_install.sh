#!/usr/bin/env bash
# Install pmr into a scratch prefix, then build examples/sum_by_residue.c
# against it twice, as users do: with find_package(pmr) and with pkg-config.
# Run both on 2 ranks. Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/pmr-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/pmr.h"
test -f "$prefix/lib/cmake/pmr/pmrConfig.cmake" || test -f "$prefix/lib64/cmake/pmr/pmrConfig.cmake"

# 1. CMake package
cmake -S "$src/examples" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
# 2. pkg-config, with the MPI compiler wrapper's compiler
pcdir=$(dirname "$(find "$prefix" -name pmr.pc | head -n 1)")
cc -std=c17 -o "$work/pc_sum" "$src/examples/sum_by_residue.c" \
     $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs pmr)

read -r -a launch <<<"$PMR_MPIEXEC"
read -r -a pre <<<"${PMR_MPIEXEC_PREFLAGS:-}"
for exe in "$work/cmake-build/sum_by_residue" "$work/pc_sum"; do
  out=$(OMP_NUM_THREADS=2 "${launch[@]}" 2 "${pre[@]}" "$exe")
  echo "$exe: $out"
  [ "${out%% *}" = ok ] || { echo "FAIL: $exe printed '$out'"; exit 1; }
done
# The installed apps run from the prefix, finding libpmr by their rpath.
"${launch[@]}" 1 "${pre[@]}" "$prefix/bin/pmr-wordcount" --version
"${launch[@]}" 1 "${pre[@]}" "$prefix/bin/pmr-farm" --version
# One version everywhere (README "Versions and licence"): the apps', pmr.pc's
# and the library file's.
v=$("$prefix/bin/pmr-wordcount" --version | awk '{print $NF}')
pcv=$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion pmr)
[ "$v" = "$pcv" ] || { echo "FAIL: pmr-wordcount says $v, pmr.pc $pcv"; exit 1; }
ls "$prefix"/lib*/libpmr.so."$v" >/dev/null ||
  { echo "FAIL: no libpmr.so.$v in $prefix"; ls "$prefix"/lib*; exit 1; }
echo "install: ok"
