#!/usr/bin/env bash
# bench/sort.sh [BUILD_DIR]: pmr_kv_sort of 100-byte records (10-byte keys)
# as a group set at 2 ranks, against one process's qsort of the same
# records in the same run, and the local sorter's radix path against its
# merge sort (bench/bench_sort.c prints seconds, GB/s and ratios).
#
# Environment (defaults in brackets):
#   PMR_BENCH_SORT_N [2000000]   records (x 100 bytes)
#   PMR_BENCH_SORT_RANKS [2]  PMR_BENCH_THREADS [1]   ranks x threads
#   PMR_BENCH_MPIRUN [mpirun]  PMR_BENCH_PML [ob1]    as in bench/run.sh
#   PMR_BENCH_MEMORY [1G]        the memory budget per rank (PMR_MEMORY)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target pmr-bench-sort -j"${JOBS:-2}" >/dev/null
exe=$(find "$build" -name pmr-bench-sort -type f -perm -u+x | head -1)

mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
args=(--oversubscribe --bind-to none)
[ -n "$pml" ] && args+=(--mca pml "$pml")
[ "$(id -u)" = 0 ] && args+=(--allow-run-as-root)
OMP_NUM_THREADS=${PMR_BENCH_THREADS:-1} PMR_MEMORY=${PMR_BENCH_MEMORY:-1G} \
  "$mpirun" "${args[@]}" -np "${PMR_BENCH_SORT_RANKS:-2}" \
  "$exe" "${PMR_BENCH_SORT_N:-2000000}"
