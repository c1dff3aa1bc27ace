#!/usr/bin/env bash
# bench/spill.sh [BUILD_DIR]: pmr-wordcount past its memory budget.
#
# Word count of a corpus of about 3 M distinct words (pmr-gen text, uniform
# over a 3 M word vocabulary, made once and cached) on 2 ranks x 1 thread:
#
#   in-memory   -m 2G    everything fits: no spill (the reference)
#   spill       -m 16M   the tables pass the budget: map and reduce spill to
#                        private files under PMR_TMPDIR (default: the cache)
#
# each REPEAT times, interleaved. Prints the median wall time of each and
# the slowdown of the spilling run against the in-memory one (wall and cpu
# ratios), the peak RSS of every rank (pmr-rss-wrap), the bytes spilled
# (--stats), and whether both runs' counts equal those of the plain C
# counter (pmr-bench-baseline, run once). Target: peak RSS per rank under
# 80 MiB at -m 16M. A benchmark, not a test: it fails (exit 1) only when a
# run fails, the counts differ or a spill file is left behind.
#
# Environment (defaults in brackets):
#   REPEAT [2]   PMR_BENCH_DIR [/tmp/pmr-bench]   PMR_BENCH_SPILL_SIZE [120M]
#   PMR_BENCH_SPILL_VOCAB [3000000]   PMR_BENCH_SPILL_MEMORY [16M]
#   PMR_BENCH_MPIRUN [mpirun]   PMR_BENCH_PML [ob1]   PMR_WORDCOUNT  PMR_GEN
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-2}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
size=${PMR_BENCH_SPILL_SIZE:-120M}
vocab=${PMR_BENCH_SPILL_VOCAB:-3000000}
budget=${PMR_BENCH_SPILL_MEMORY:-16M}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
ranks=2
target_rss_mib=80
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"

# --- build ------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  say "bench: configuring $build (Release)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
build=$(cd "$build" && pwd)
app=${PMR_WORDCOUNT:-$build/apps/wordcount/pmr-wordcount}
gen=${PMR_GEN:-$build/apps/gen/pmr-gen}
[[ -n ${PMR_WORDCOUNT:-} ]] || cmake --build "$build" --target pmr-wordcount -j "$ncpu" >/dev/null
[[ -n ${PMR_GEN:-} ]] || cmake --build "$build" --target pmr-gen -j "$ncpu" >/dev/null
cmake --build "$build" --target pmr-bench-tools -j "$ncpu" >/dev/null \
  || die "building the bench tools in $build failed"
[[ -x $app && -x $gen ]] || die "no pmr-wordcount or pmr-gen in $build"
wrap=$build/bench/pmr-rss-wrap
baseline=$build/bench/pmr-bench-baseline

mkdir -p "$cache"
corpus=$cache/gen-text-$size-v$vocab-e0-s42.txt
if [[ ! -s $corpus ]]; then
  say "bench: generating $corpus"
  "$gen" text -s "$size" -V "$vocab" -e 0 -S 42 -t "$ncpu" --no-progress -o "$corpus"
fi

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

rundir=$cache/spill-run
rm -rf "$rundir"
mkdir -p "$rundir/tmp"
export PMR_TMPDIR=${PMR_TMPDIR:-$rundir/tmp}
results=$rundir/results
: >"$results"
status=0

# --- the reference counts ---------------------------------------------------------
say "bench: reference counts (pmr-bench-baseline)"
"$baseline" -t "$ncpu" -o "$rundir/reference.txt" "$corpus" 2>"$rundir/reference.stderr" \
  || die "pmr-bench-baseline failed"
LC_ALL=C sort -o "$rundir/reference.sorted" "$rundir/reference.txt"
distinct=$(wc -l <"$rundir/reference.sorted")

configs=(inmemory spill)
declare -A mem check
mem[inmemory]=2G
mem[spill]=$budget

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 t0 t1 wall cpu=0 rss="" spilled
  rm -f "$rundir/$c.txt"
  t0=$(date +%s.%N)
  if ! "$mpirun" -np $ranks "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app" -t 1 \
      -m "${mem[$c]}" --no-progress --stats --text "$rundir/$c.txt" "$corpus" \
      >"$rundir/$tag.stdout" 2>"$rundir/$tag.stderr"; then
    say "bench: $c (run $rep) failed"
    sed 's/^/  | /' "$rundir/$tag.stderr" >&2
    status=1
    return
  fi
  t1=$(date +%s.%N)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  for ((r = 0; r < ranks; r++)); do
    local f=$rundir/rss.$tag.$r
    rss+=" $(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$f")"
    cpu=$(awk -v a="$cpu" -v b="$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$f")" \
      'BEGIN { printf "%.3f", a + b }')
  done
  spilled=$(sed -n 's/^spilled .*(\([0-9]*\) B).*/\1/p' "$rundir/$tag.stderr")
  echo "$c $rep $wall $cpu ${spilled:-0}$rss" >>"$results"
  if [[ -n $(ls -A "$PMR_TMPDIR") ]]; then
    say "bench: $c (run $rep) left files in $PMR_TMPDIR"
    status=1
  fi
  LC_ALL=C sort -o "$rundir/$c.sorted" "$rundir/$c.txt"
  if cmp -s "$rundir/$c.sorted" "$rundir/reference.sorted"; then
    check[$c]=${check[$c]:-exact}
  else
    check[$c]=DIFFERENT
    status=1
    say "bench: $c (run $rep) counts differ from the reference"
  fi
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
say "bench: $repeat x {${configs[*]}} on $corpus ($distinct distinct words)"
for ((rep = 1; rep <= repeat; rep++)); do
  for c in "${configs[@]}"; do
    run_one "$c" "$rep"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$1" -v k="$2" '$1 == c { print $k }' "$results" | median; }

echo
echo "pmr spill benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after"
echo "corpus  : $corpus ($(stat -c %s "$corpus") bytes, $distinct distinct words)"
echo "runs    : $ranks ranks x 1 thread, $repeat per configuration, interleaved, medians;"
echo "          cpu = user+system seconds of all ranks; RSS = peak of each rank"
echo
printf '%-22s %9s %9s %12s  %-20s %s\n' configuration "wall [s]" "cpu [s]" "spilled MiB" \
  "peak RSS/rank [MiB]" counts
worst_rss=0
for c in "${configs[@]}"; do
  if ! grep -q "^$c " "$results"; then
    printf '%-22s (no successful run)\n' "$c -m ${mem[$c]}"
    continue
  fi
  rss=$(awk -v c="$c" '$1 == c { for (i = 6; i <= NF; i++) if ($i > m[i-6]) m[i-6] = $i; n = NF - 5 }
        END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
  printf '%-22s %9.3f %9.3f %12.1f  %-20s %s\n' "$c -m ${mem[$c]}" "$(col "$c" 3)" "$(col "$c" 4)" \
    "$(awk -v b="$(col "$c" 5)" 'BEGIN { print b / 1048576 }')" "$rss" "${check[$c]:-unchecked}"
  [[ $c == spill ]] && worst_rss=$(echo "$rss" | tr ' ' '\n' | awk '{ if ($1 > a) a = $1 } END { print a + 0 }')
done
echo
wall_ratio=$(awk -v a="$(col spill 3)" -v b="$(col inmemory 3)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
cpu_ratio=$(awk -v a="$(col spill 4)" -v b="$(col inmemory 4)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
met=$(awk -v v="$worst_rss" -v t=$target_rss_mib 'BEGIN { print (v > 0 && v < t ? "met" : "MISSED") }')
echo "slowdown: spill / in-memory = ${wall_ratio}x wall, ${cpu_ratio}x cpu"
echo "target  : peak RSS per rank < $target_rss_mib MiB at -m $budget (worst rank: $worst_rss MiB, $met)"
echo "raw     : $results (config rep wall cpu spilled-bytes rss-KiB-per-rank...)"
exit $status
