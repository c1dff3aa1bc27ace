#!/usr/bin/env bash
# bench/groupby.sh [BUILD_DIR]: a group-by job without combining against raw
# MPI_Alltoallv of the same bytes, in the same run (bench/bench_groupby.c).
#
# For each rank count of PMR_BENCH_GB_RANKS, one run of pmr-bench-groupby:
# every rank emits about B bytes of (8-byte key, V-byte ragged value) pairs
# into a group set; pmr_kv_reduce moves each pair to its key's rank and
# sorts them into groups. Printed: median seconds of MPI_Alltoallv of
# prepared buffers, of the reduce's shuffle, of the whole reduce and of map
# + reduce, and raw/this (1.0 = raw MPI's speed; the target is >= 0.7 for
# the shuffle). A benchmark, not a test: it fails only when a run fails or
# pairs are lost.
#
# Environment (defaults in brackets):
#   REPEAT [3]                      interleaved runs per configuration
#   PMR_BENCH_GB_BYTES [67108864]   B, wire bytes per rank
#   PMR_BENCH_GB_VALUE [100]        V
#   PMR_BENCH_GB_RANKS ["2 4"]      rank counts
#   PMR_BENCH_GB_THREADS [1]        threads per rank
#   PMR_BENCH_MPIRUN [mpirun]       launcher;  PMR_BENCH_PML [ob1] as in run.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
bytes=${PMR_BENCH_GB_BYTES:-67108864}
value=${PMR_BENCH_GB_VALUE:-100}
ranks_list=${PMR_BENCH_GB_RANKS:-2 4}
threads=${PMR_BENCH_GB_THREADS:-1}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench/groupby: $*"; exit 1; }
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"

if [[ ! -f $build/CMakeCache.txt ]]; then
  say "bench: configuring $build (Release)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target pmr-bench-groupby >/dev/null
exe=$build/bench/pmr-bench-groupby
[[ -x $exe ]] || die "no $exe"

mpiflags=()
mpi_version=$("$mpirun" --version 2>&1 || true)
if [[ $mpi_version == *"Open MPI"* || $mpi_version == *OpenRTE* ]]; then
  mpiflags=(--bind-to none --oversubscribe)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive

say "bench/groupby: $ncpu cores; ranks: $ranks_list; $threads thread(s) per rank"
for np in $ranks_list; do
  echo "-- $np rank(s)"
  "$mpirun" -np "$np" "${mpiflags[@]}" "$exe" -b "$bytes" -v "$value" \
    -r "$repeat"
done
