#!/usr/bin/env bash
# bench/sortapp.sh [BUILD_DIR]: pmr-sort against a single-process in-memory
# sort of the same records (bench/sort_baseline.c).
#
# Builds pmr-sort, pmr-gen and the bench tools in BUILD_DIR (default
# $BUILD_DIR, else ./build, configured as Release if it does not exist
# yet), generates RECORDS TeraSort records once (pmr-gen records; cached),
# reads them into the page cache, then runs each configuration REPEAT
# times, interleaved:
#
#   baseline        pmr-bench-sort-baseline IN OUT   (read all, LSD radix on the keys, write)
#   pmr 2x1         mpirun -np 2 pmr-sort -t 1 -m MEM IN -o OUT      (all in memory)
#   pmr 2x1 spill   mpirun -np 2 pmr-sort -t 1 -m MEM/10 ...         (data = 10 x the budget)
#
# and prints the median wall time (the whole command, mpirun included), the
# rate in GB/s (10^9 bytes of input per second of wall time), the ratio of
# the baseline's wall time to each configuration's (above 1: faster than
# the baseline), the peak RSS of every rank, the bytes pmr-sort spilled
# (from --stats), and whether the output is identical to the baseline's
# (cmp; random 80-bit keys do not repeat, so the order is the same). A
# benchmark, not a test: it fails (exit 1) only when a run fails or outputs
# differ.
#
# Environment (defaults in brackets):
#   REPEAT [3]                      runs per configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench]  cache for the records and run outputs
#   PMR_BENCH_SORT_RECORDS [10M]    records of 100 bytes (10M = 1 GiB - 4.6%); use
#                                   e.g. 2M on a machine with little memory or disk
#   PMR_BENCH_SORT_RANKS [2]        ranks of the pmr runs
#   PMR_BENCH_SORT_MEMORY []        -m of the in-memory run (default: 3 x a rank's
#                                   share of the data, at least 64M); the spill run
#                                   gets a tenth of a rank's share
#   PMR_BENCH_SORT_CONFIGS [baseline pmr spill]
#   PMR_BENCH_MPIRUN [mpirun]  PMR_BENCH_PML [ob1]   as in bench/run.sh
#   PMR_SORT, PMR_GEN               use these instead of BUILD_DIR's
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
records=${PMR_BENCH_SORT_RECORDS:-10M}
ranks=${PMR_BENCH_SORT_RANKS:-2}
read -r -a configs <<<"${PMR_BENCH_SORT_CONFIGS:-baseline pmr spill}"
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
[[ $ranks =~ ^[1-9][0-9]*$ ]] || die "PMR_BENCH_SORT_RANKS must be a positive integer"
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"

# --- build ------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  say "bench: configuring $build (Release)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
build=$(cd "$build" && pwd)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
case ${build_type:-none} in
  Release | RelWithDebInfo) ;;
  *) say "bench: warning: $build is a '${build_type:-no}' build type; timings mean little" ;;
esac
targets=()
[[ -n ${PMR_SORT:-} ]] || targets+=(pmr-sort)
[[ -n ${PMR_GEN:-} ]] || targets+=(pmr-gen)
if ((${#targets[@]})); then
  cmake --build "$build" --target "${targets[@]}" -j "$ncpu" >/dev/null \
    || die "building ${targets[*]} in $build failed"
fi
cmake --build "$build" --target pmr-bench-sort-baseline pmr-rss-wrap -j "$ncpu" >/dev/null \
  || die "building the bench tools in $build failed (cmake --build $build --target pmr-bench-tools)"
app=${PMR_SORT:-$build/apps/sort/pmr-sort}
gen=${PMR_GEN:-$build/apps/gen/pmr-gen}
baseline=$build/bench/pmr-bench-sort-baseline
wrap=$build/bench/pmr-rss-wrap
[[ -x $app && -x $gen && -x $baseline && -x $wrap ]] || die "missing $app, $gen, $baseline or $wrap"

# --- launcher -------------------------------------------------------------------
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

# --- records (made once) ----------------------------------------------------------
mkdir -p "$cache"
data=$cache/records-$records-s42.dat
if [[ ! -s $data ]]; then
  say "bench: generating $data"
  "$mpirun" -np "$ranks" "${mpiflags[@]}" "$gen" records -n "$records" -S 42 -o "$data" \
    || die "pmr-gen records failed"
fi
bytes=$(stat -c %s "$data")
share=$((bytes / ranks))
mib=$((1024 * 1024))
memory=${PMR_BENCH_SORT_MEMORY:-$(((3 * share / mib > 64 ? 3 * share / mib : 64)))M}
spill_mem=$(((share / 10 / mib > 1 ? share / 10 / mib : 1)))M
avail_kib=$(sed -n 's/^MemAvailable:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo 2>/dev/null || echo 0)
if ((avail_kib > 0 && avail_kib * 1024 < 4 * bytes)); then
  say "bench: warning: $((avail_kib / 1024)) MiB available for $((bytes / mib)) MiB of records;" \
    "set PMR_BENCH_SORT_RECORDS lower if runs fail"
fi
cat "$data" >/dev/null # every configuration starts from a warm page cache

rundir=$cache/sortrun
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0

declare -A label check spilled
label[baseline]="baseline, 1 process"
label[pmr]="pmr $ranks ranks x 1 thread"
label[spill]="pmr $ranks x 1, -m $spill_mem"

command_for() { # config rep -> the command in the array `cmd`
  local c=$1 tag=$1.$2
  case $c in
    baseline) cmd=("$wrap" "$rundir/rss.$tag" "$baseline" "$data" "$rundir/$c.out") ;;
    pmr) cmd=("$mpirun" -np "$ranks" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
              -t 1 -m "$memory" --no-progress --stats "$data" -o "$rundir/$c.out") ;;
    spill) cmd=("$mpirun" -np "$ranks" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                -t 1 -m "$spill_mem" --no-progress --stats "$data" -o "$rundir/$c.out") ;;
    *) die "unknown configuration '$c' (baseline, pmr, spill)" ;;
  esac
}

now() { date +%s.%N; }

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 t0 t1 wall rss r
  command_for "$c" "$rep"
  rm -f "$rundir/$c.out" "$rundir/rss.$tag".*
  t0=$(now)
  if ! "${cmd[@]}" >"$rundir/$tag.stdout" 2>"$rundir/$tag.stderr"; then
    say "bench: ${label[$c]} failed (run $rep): ${cmd[*]}"
    sed 's/^/  | /' "$rundir/$tag.stderr" | tail -20 >&2
    status=1
    return
  fi
  t1=$(now)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  rss=""
  for ((r = 0; ; r++)); do
    [[ -f $rundir/rss.$tag.$r ]] || break
    rss+=" $(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$rundir/rss.$tag.$r")"
  done
  echo "$c $rep $wall$rss" >>"$results"
  spilled[$c]=$(sed -n 's/^spilled[^0-9]*\([0-9][0-9]*\).*/\1/p' "$rundir/$tag.stderr" | head -n1)
  if [[ $c != baseline ]]; then
    if [[ ! -f $rundir/baseline.out ]]; then
      check[$c]=${check[$c]:-unchecked}
    elif cmp -s "$rundir/$c.out" "$rundir/baseline.out"; then
      check[$c]=${check[$c]:-identical}
    else
      check[$c]=DIFFERENT
      status=1
      say "bench: ${label[$c]} (run $rep): output differs from the baseline's"
    fi
    rm -f "$rundir/$c.out"
  fi
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  say "bench: warning: load average $load_before on $ncpu cores; other work will skew the timings"
fi
say "bench: $repeat x {${configs[*]}} on $data"
for ((rep = 1; rep <= repeat; rep++)); do
  for c in "${configs[@]}"; do
    run_one "$c" "$rep"
  done
done

# --- report ------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { awk -v c="$1" -v f="$2" '$1 == c { print $f }' "$results" | median; }

cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
version=$("$mpirun" -np 1 "${mpiflags[@]}" "$app" --version 2>/dev/null || true)
version=${version%%$'\n'*}
echo
echo "pmr-sort benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$app}"
echo "records : $data ($bytes bytes, $((bytes / 100)) records of 100 bytes)"
echo "memory  : -m $memory per rank in memory; -m $spill_mem for the spill run" \
  "(a rank's share is $((share / mib)) MiB)"
echo "runs    : $repeat per configuration, interleaved, medians; wall = whole command incl. mpirun;"
echo "          GB/s = input bytes / wall / 10^9; ratio = baseline wall / wall (> 1: faster)"
echo
printf '%-28s %4s %9s %7s %6s  %-22s %-14s %s\n' configuration runs "wall [s]" "GB/s" ratio \
  "peak RSS/rank [MiB]" "spilled [B]" result
bw=$(med baseline 3)
for c in "${configs[@]}"; do
  n=$(awk -v c="$c" '$1 == c' "$results" | wc -l)
  if ((n == 0)); then
    printf '%-28s %4s   (no successful run)\n' "${label[$c]}" 0
    continue
  fi
  w=$(med "$c" 3)
  gbs=$(awk -v b="$bytes" -v w="$w" 'BEGIN { printf "%.3f", b / w / 1e9 }')
  ratio=$(awk -v x="$w" -v b="$bw" 'BEGIN { if (x > 0 && b > 0) printf "%.2f", b / x; else print "-" }')
  rss=$(awk -v c="$c" '$1 == c { for (i = 4; i <= NF; i++) if ($i > m[i-4]) m[i-4] = $i; n = (NF - 3 > n ? NF - 3 : n) }
        END { for (i = 0; i < n; i++) printf "%s%.0f", (i ? " " : ""), m[i] / 1024 }' "$results")
  result=${check[$c]:-(reference)}
  printf '%-28s %4d %9.3f %7s %6s  %-22s %-14s %s\n' "${label[$c]}" "$n" "$w" "$gbs" "$ratio" \
    "$rss" "${spilled[$c]:--}" "$result"
done
echo
echo "launcher: ${mpiflags[*]:-(none)}"
echo "raw     : $results (config rep wall rss-KiB-per-rank...)"
exit $status
