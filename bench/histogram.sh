#!/usr/bin/env bash
# bench/histogram.sh [BUILD_DIR]: pmr-histogram against a minimal C loop over
# plain serial HDF5 (bench/histogram_baseline.c).
#
# Builds pmr-histogram and the bench tools in BUILD_DIR (default $BUILD_DIR,
# else ./build, configured as Release if it does not exist yet), makes the
# float64 dataset once (cached; bench/make_histogram_data.py), reads it into
# the page cache, then runs every configuration REPEAT times, interleaved:
#
#   baseline        pmr-bench-histogram -t T -r LO:HI          (1 reader, T binning threads)
#   pmr Tx1         mpirun -np T pmr-histogram -t 1 --range LO:HI
#   pmr 1xT         mpirun -np 1 pmr-histogram -t T --range LO:HI
#   baseline auto   the same without a range: a min/max pass first
#   pmr Tx1 auto    (both read the file twice)
#   startup         pmr-histogram on a 1-value dataset: the fixed cost
#
# and prints the median wall time, the throughput (dataset bytes / wall
# time), the throughput ratio to the baseline of the same kind, peak RSS of
# every rank, and whether pmr's counts (bins, underflow, overflow, NaN)
# equal the baseline's. A benchmark, not a test: it fails (exit 1) only when
# a run fails or the counts differ.
#
# Environment (defaults in brackets):
#   REPEAT [3]                        runs per configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench]    cache for the dataset and run outputs
#   PMR_BENCH_HIST_SIZE [1G]          the dataset's bytes (float64 values)
#   PMR_BENCH_HIST_BINS [1000]  PMR_BENCH_HIST_RANGE [-5:5]
#   PMR_BENCH_THREADS [2]             T above
#   PMR_BENCH_MPIRUN [mpirun]  PMR_BENCH_PML [ob1]   as in bench/run.sh
#   PMR_BENCH_YIELD [1]               1: Open MPI ranks yield their core while they
#                                     wait in MPI (mpi_yield_when_idle), as the
#                                     baseline's idle OpenMP threads sleep; 0: spin
#   PMR_BENCH_ARGS []                 extra pmr-histogram options, e.g. "--stats"
#   PMR_HISTOGRAM                     use this pmr-histogram instead of BUILD_DIR's
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
size=${PMR_BENCH_HIST_SIZE:-1G}
bins=${PMR_BENCH_HIST_BINS:-1000}
range=${PMR_BENCH_HIST_RANGE:--5:5}
threads=${PMR_BENCH_THREADS:-2}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
yield=${PMR_BENCH_YIELD:-1}
python=${PMR_PYTHON:-/usr/bin/python3}
read -r -a extra <<<"${PMR_BENCH_ARGS:-}"
target_ratio=0.8
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "PMR_BENCH_THREADS must be a positive integer"
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
"$python" -c 'import h5py, numpy' 2>/dev/null || die "$python cannot import h5py and numpy"

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
if [[ -n ${PMR_HISTOGRAM:-} ]]; then
  app=$PMR_HISTOGRAM
else
  cmake --build "$build" --target pmr-histogram -j "$ncpu" >/dev/null \
    || die "building pmr-histogram in $build failed"
  app=$build/apps/histogram/pmr-histogram
fi
cmake --build "$build" --target pmr-bench-tools -j "$ncpu" >/dev/null \
  || die "building the bench tools in $build failed (cmake --build $build --target pmr-bench-tools)"
baseline=$build/bench/pmr-bench-histogram
wrap=$build/bench/pmr-rss-wrap
[[ -x $app && -x $baseline && -x $wrap ]] || die "missing $app, $baseline or $wrap"

# --- dataset (made once) ------------------------------------------------------
mkdir -p "$cache"
data=$cache/hist-$size-s42.h5
if [[ ! -s $data ]]; then
  say "bench: generating $data"
  "$python" "$here/make_histogram_data.py" "$data" "$size"
fi
tiny=$cache/hist-tiny.h5
[[ -s $tiny ]] || "$python" "$here/make_histogram_data.py" "$tiny" 8
cat "$data" >/dev/null # every configuration starts from a warm page cache
bytes=$(stat -c %s "$data")

# --- launcher -------------------------------------------------------------------
mpiflags=()
mpi_version=$("$mpirun" --version 2>&1 || true)
if [[ $mpi_version == *"Open MPI"* || $mpi_version == *OpenRTE* ]]; then
  mpiflags=(--bind-to none)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  [[ $yield != 1 ]] || mpiflags+=(--mca mpi_yield_when_idle 1)
  ((threads <= ncpu)) || mpiflags+=(--oversubscribe)
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi
# Idle OpenMP threads sleep rather than spin (the baseline's between slabs,
# pmr's between blocks): on a small or shared machine spinning steals the
# reader's core.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

rundir=$cache/hrun
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0

configs=(baseline pmrTx1 pmr1xT base_auto pmrTx1_auto startup)
declare -A label check kind
label[baseline]="baseline, $threads threads"
label[pmrTx1]="pmr $threads ranks x 1 thread"
label[pmr1xT]="pmr 1 rank x $threads threads"
label[base_auto]="baseline auto, $threads thr"
label[pmrTx1_auto]="pmr auto $threads x 1"
label[startup]="pmr 1 rank, 1 value"
for c in baseline pmrTx1 pmr1xT; do kind[$c]=range; done
for c in base_auto pmrTx1_auto; do kind[$c]=auto; done

command_for() { # config rep -> the command in the array `cmd`
  local c=$1 tag=$1.$2
  case $c in
    baseline) cmd=("$wrap" "$rundir/rss.$tag" "$baseline" -t "$threads" -b "$bins" -r "$range"
                   -o "$rundir/$c.txt" "$data" /x) ;;
    base_auto) cmd=("$wrap" "$rundir/rss.$tag" "$baseline" -t "$threads" -b "$bins"
                    -o "$rundir/$c.txt" "$data" /x) ;;
    pmrTx1) cmd=("$mpirun" -np "$threads" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t 1 --no-progress --bins "$bins" --range "$range" "${extra[@]}"
                 "$data:/x" -o "$rundir/$c.h5") ;;
    pmr1xT) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t "$threads" --no-progress --bins "$bins" --range "$range" "${extra[@]}"
                 "$data:/x" -o "$rundir/$c.h5") ;;
    pmrTx1_auto) cmd=("$mpirun" -np "$threads" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag"
                      "$app" -t 1 --no-progress --bins "$bins" "${extra[@]}"
                      "$data:/x" -o "$rundir/$c.h5") ;;
    startup) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                  -t 1 --no-progress "$tiny:/x" -o "$rundir/$c.h5") ;;
  esac
}

# pmr's counts as the baseline writes them: bin<TAB>count, then the tallies.
as_text() { # result.h5 out.txt
  "$python" - "$1" "$2" <<'EOF'
import sys, h5py
g = h5py.File(sys.argv[1], "r")["histogram"]
with open(sys.argv[2], "w") as f:
    for i, c in enumerate(g["counts"][()]):
        f.write("%d\t%d\n" % (i, c))
    for k in ("underflow", "overflow", "nan"):
        f.write("%s\t%d\n" % (k, g.attrs[k]))
EOF
}

now() { date +%s.%N; }

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 t0 t1 wall appwall cpu rss r ref
  command_for "$c" "$rep"
  rm -f "$rundir/$c.txt" "$rundir/$c.h5" "$rundir/rss.$tag".*
  t0=$(now)
  if ! "${cmd[@]}" >"$rundir/$tag.stdout" 2>"$rundir/$tag.stderr"; then
    say "bench: ${label[$c]} failed (run $rep): ${cmd[*]}"
    sed 's/^/  | /' "$rundir/$tag.stderr" >&2
    status=1
    return
  fi
  t1=$(now)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  appwall=0
  cpu=0
  rss=""
  for ((r = 0; ; r++)); do
    local f=$rundir/rss.$tag.$r
    [[ -f $f ]] || break
    rss+=" $(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$f")"
    appwall=$(awk -v a="$appwall" -v b="$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' "$f")" \
      'BEGIN { printf "%.4f", (b > a ? b : a) }')
    cpu=$(awk -v a="$cpu" -v b="$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$f")" \
      'BEGIN { printf "%.4f", a + b }')
  done
  echo "$c $rep $wall $appwall $cpu$rss" >>"$results"
  [[ $c == startup ]] && return
  if [[ $c == pmr* ]]; then
    as_text "$rundir/$c.h5" "$rundir/$c.txt" || { check[$c]="NO OUTPUT"; status=1; return; }
  fi
  ref=$rundir/baseline.txt
  [[ ${kind[$c]} == auto ]] && ref=$rundir/base_auto.txt
  if [[ $c != baseline && $c != base_auto && -f $ref ]]; then
    if cmp -s "$rundir/$c.txt" "$ref"; then
      check[$c]=${check[$c]:-identical}
    else
      check[$c]="DIFFERENT"
      status=1
      say "bench: ${label[$c]} (run $rep) counts differ from the baseline's:"
      diff "$rundir/$c.txt" "$ref" | head -5 >&2 || true
    fi
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
echo "pmr-histogram benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$app}"
echo "dataset : $data ($bytes bytes, $((bytes / 8)) float64), $bins bins, range $range or the data's"
echo "runs    : $repeat per configuration, interleaved, medians; wall = whole command incl. mpirun,"
echo "          app = slowest rank from exec to exit, cpu = user+system seconds of all ranks;"
echo "          GiB/s = dataset bytes / wall (auto rows read the file twice); ratio = throughput"
echo "          over the baseline's of the same kind (>= $target_ratio wanted), app ratio likewise"
echo
printf '%-30s %4s %9s %7s %6s %8s %6s %8s  %-18s %s\n' configuration runs "wall [s]" "GiB/s" ratio \
  "app [s]" ratio "cpu [s]" "peak RSS/rank [MiB]" result
worst=""
for c in "${configs[@]}"; do
  n=$(awk -v c="$c" '$1 == c' "$results" | wc -l)
  if ((n == 0)); then
    printf '%-30s %4s   (no successful run)\n' "${label[$c]}" 0
    continue
  fi
  w=$(med "$c" 3)
  a=$(med "$c" 4)
  u=$(med "$c" 5)
  base=baseline
  [[ ${kind[$c]:-} == auto ]] && base=base_auto
  bw=$(med "$base" 3)
  ba=$(med "$base" 4)
  gib=$(awk -v b="$bytes" -v w="$w" 'BEGIN { printf "%.3f", b / w / 1073741824 }')
  rw=$(awk -v x="$w" -v b="$bw" 'BEGIN { if (x > 0 && b > 0) printf "%.2f", b / x; else print "nan" }')
  ra=$(awk -v x="$a" -v b="$ba" 'BEGIN { if (x > 0 && b > 0) printf "%.2f", b / x; else print "nan" }')
  rss=$(awk -v c="$c" '$1 == c { for (i = 6; i <= NF; i++) if ($i > m[i-6]) m[i-6] = $i; n = (NF - 5 > n ? NF - 5 : n) }
        END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
  case $c in
    baseline | base_auto) result="(reference)" ;;
    startup) result="(fixed cost, in the rows above)"; gib="-"; rw="-"; ra="-" ;;
    *) result=${check[$c]:-unchecked}
       [[ -z $worst ]] || worst+=", "
       worst+="${label[$c]} $rw" ;;
  esac
  printf '%-30s %4d %9.3f %7s %6s %8.3f %6s %8.3f  %-18s %s\n' "${label[$c]}" "$n" "$w" "$gib" \
    "$rw" "$a" "$ra" "$u" "$rss" "$result"
done
echo
echo "target  : throughput ratio >= $target_ratio at $threads ranks x 1 thread vs $threads baseline threads"
echo "          (wall ratios: $worst)"
echo "launcher: ${mpiflags[*]:-(none)}; OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
echo "raw     : $results (config rep wall app-wall cpu rss-KiB-per-rank...)"
exit $status
