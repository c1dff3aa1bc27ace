#!/usr/bin/env bash
# bench/pagerank.sh [BUILD_DIR]: pmr-pagerank against a one-process C
# power iteration over a CSR (bench/pagerank_baseline.c).
#
# Makes an R-MAT graph once with pmr-gen graph (HDF5, cached; also dumped
# as raw int64 pairs for the baseline), then runs REPEAT times, interleaved:
#
#   baseline   pmr-bench-pagerank-baseline -i ITERS   (1 process, 1 thread)
#   pmr        mpirun -np RANKS pmr-pagerank -t 1 --iters ITERS --tol 1e-300
#
# both for exactly ITERS iterations (the tolerance is never met), and prints
# the median seconds of the iterations as each program times them (loading,
# the adjacency's shuffle and the CSR build excluded), edge-iterations per
# second (distinct edges x iterations / s) in all and per rank, the same per
# CPU second of all ranks (the fair figure on a loaded machine), the ratios
# to the baseline, Thrill's figure (about 22 M edge-iterations/s per worker
# on a 20 M-edge graph), pmr's load and setup seconds, and the largest
# difference between the two programs' ranks. A benchmark, not a test: it
# fails only when a run fails or the ranks disagree (over 1e-10).
#
# Environment (defaults in brackets):
#   PMR_PR_SCALE [18]  PMR_PR_FACTOR [16]  PMR_PR_SEED [1]   the graph (2^S
#                      vertices, F x 2^S edges; the issue's size is S = 20)
#   PMR_PR_ITERS [10]  PMR_PR_RANKS [2]  REPEAT [3]
#   PMR_BENCH_DIR [/tmp/pmr-bench]  PMR_BENCH_MEMORY [1G]  PMR_BENCH_MPIRUN [mpirun]
#   PMR_BENCH_PML [ob1]  PYTHON [/usr/bin/python3 if it has numpy and h5py]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
scale=${PMR_PR_SCALE:-18}
factor=${PMR_PR_FACTOR:-16}
seed=${PMR_PR_SEED:-1}
iters=${PMR_PR_ITERS:-10}
ranks=${PMR_PR_RANKS:-2}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
memory=${PMR_BENCH_MEMORY:-1G}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
thrill=22 # M edge-iterations/s per worker (the issue)
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
for v in scale factor iters ranks repeat; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
python=${PYTHON:-}
if [[ -z $python ]]; then
  for p in /usr/bin/python3 python3; do
    if "$p" -c 'import numpy, h5py' 2>/dev/null; then python=$p; break; fi
  done
fi
[[ -n $python ]] || die "no python3 with numpy and h5py (set PYTHON)"

if [[ ! -f $build/CMakeCache.txt ]]; then
  say "bench: configuring $build (Release)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
build=$(cd "$build" && pwd)
cmake --build "$build" --target pmr-pagerank pmr-gen pmr-bench-pagerank-baseline -j "$ncpu" \
  >/dev/null || die "building in $build failed"
app=$build/apps/pagerank/pmr-pagerank
gen=$build/apps/gen/pmr-gen
baseline=$build/bench/pmr-bench-pagerank-baseline

mpiflags=()
mpi_version=$("$mpirun" --version 2>&1 || true)
if [[ $mpi_version == *"Open MPI"* || $mpi_version == *OpenRTE* ]]; then
  mpiflags=(--bind-to none)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  ((ranks <= ncpu)) || mpiflags+=(--oversubscribe)
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi

mkdir -p "$cache"
data=$cache/rmat-s$scale-f$factor-seed$seed
if [[ ! -s $data.h5 || ! -s $data.i64 ]]; then
  say "bench: generating $data.h5 (pmr-gen graph) and $data.i64"
  "$mpirun" -np "$ranks" "${mpiflags[@]}" "$gen" graph --scale "$scale" --edge-factor "$factor" \
    --seed "$seed" -t 1 -o "$data.h5"
  "$python" -c 'import sys, h5py; h5py.File(sys.argv[1], "r")["edges"][...].tofile(sys.argv[2])' \
    "$data.h5" "$data.i64"
fi
cat "$data.h5" "$data.i64" >/dev/null # warm the page cache

rundir=$cache/pagerank-run
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0
say "bench: $repeat x {baseline, pmr $ranks ranks}, $iters iterations on $data"
for ((rep = 1; rep <= repeat; rep++)); do
  if "$baseline" -i "$iters" -o "$rundir/baseline.f64" "$data.i64" 2>"$rundir/baseline.$rep.err"; then
    s=$(sed -nE 's/.* iterations in ([0-9.]+) s.*/\1/p' "$rundir/baseline.$rep.err")
    c=$(sed -nE 's/.* iterations in [0-9.]+ s, cpu ([0-9.]+) s.*/\1/p' "$rundir/baseline.$rep.err")
    echo "baseline $s 0 0 $c" >>"$results"
  else
    say "bench: baseline failed"; cat "$rundir/baseline.$rep.err" >&2; status=1
  fi
  if "$mpirun" -np "$ranks" "${mpiflags[@]}" "$app" "$data.h5:/edges" --iters "$iters" --tol 1e-300 \
    -t 1 -m "$memory" --no-progress --stats -o "$rundir/pmr.h5" 2>"$rundir/pmr.$rep.err"; then
    s=$(sed -nE 's/^iterate +([0-9.]+) s.*/\1/p' "$rundir/pmr.$rep.err")
    l=$(sed -nE 's/^load +([0-9.]+) s.*/\1/p' "$rundir/pmr.$rep.err")
    u=$(sed -nE 's/^setup +([0-9.]+) s.*/\1/p' "$rundir/pmr.$rep.err")
    c=$(sed -nE 's/^iterate .*, cpu ([0-9.]+) s.*/\1/p' "$rundir/pmr.$rep.err")
    echo "pmr $s $l $u $c" >>"$results"
  else
    say "bench: pmr-pagerank failed"; cat "$rundir/pmr.$rep.err" >&2; status=1
  fi
done

edges=$(sed -nE 's/.*\(([0-9]+) distinct\).*/\1/p' "$rundir/baseline.1.err" 2>/dev/null || echo 0)
check=$("$python" - "$rundir" <<'PY' || true
import sys, os
import numpy as np, h5py
run = sys.argv[1]
try:
    b = np.fromfile(os.path.join(run, "baseline.f64"))
    with h5py.File(os.path.join(run, "pmr.h5"), "r") as f:
        v = f["pagerank/vertices"][...]
        r = f["pagerank/rank"][...]
    r = r[np.argsort(v)]
    d = np.abs(r - b).max()
    print("max |pmr - baseline| rank: %.2e%s" % (d, "" if d < 1e-10 else " (TOO LARGE)"))
except Exception as e:
    print("rank check failed: %s (TOO LARGE)" % e)
PY
)
[[ $check == *"TOO LARGE"* ]] && status=1

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
bs=$(awk '$1 == "baseline" { print $2 }' "$results" | median)
ps=$(awk '$1 == "pmr" { print $2 }' "$results" | median)
pl=$(awk '$1 == "pmr" { print $3 }' "$results" | median)
pu=$(awk '$1 == "pmr" { print $4 }' "$results" | median)
bc=$(awk '$1 == "baseline" { print $5 }' "$results" | median)
pc=$(awk '$1 == "pmr" { print $5 }' "$results" | median)
echo
echo "pmr-pagerank benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $(cut -d' ' -f1 /proc/loadavg)"
echo "graph   : R-MAT scale $scale, edge factor $factor, seed $seed: $((factor << scale)) edges, $edges distinct; $iters iterations"
echo "runs    : $repeat each, interleaved, medians of the iteration seconds as each program times them"
awk -v bs="$bs" -v ps="$ps" -v pl="$pl" -v pu="$pu" -v bc="$bc" -v pc="$pc" -v m="$edges" -v it="$iters" -v r="$ranks" -v th="$thrill" 'BEGIN {
  ei = m * it
  printf "%-26s %9s %12s %15s %8s %9s %13s %8s\n", "configuration", "iter [s]", "M edge-it/s", "M edge-it/s/rank", "ratio", "cpu [s]", "M edge-it/cpu-s", "ratio"
  printf "%-26s %9.3f %12.1f %15.1f %8.3f %9.3f %13.1f %8.3f\n", "baseline (1 process)", bs, ei / bs / 1e6, ei / bs / 1e6, 1, bc, ei / bc / 1e6, 1
  printf "%-26s %9.3f %12.1f %15.1f %8.3f %9.3f %13.1f %8.3f\n", "pmr " r " ranks x 1 thread", ps, ei / ps / 1e6, ei / ps / r / 1e6, bs / ps, pc, ei / pc / 1e6, bc / pc
  printf "Thrill: about %d M edge-iterations/s per worker; pmr per rank / Thrill = %.3f (wall), %.3f (per cpu-second)\n", th, ei / ps / r / 1e6 / th, ei / pc / 1e6 / th
  printf "pmr load %.3f s (read + adjacency shuffle), setup %.3f s (vertex set)\n", pl, pu
}'
echo "$check"
exit $status
