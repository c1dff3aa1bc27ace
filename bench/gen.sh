#!/usr/bin/env bash
# bench/gen.sh [BUILD_DIR]: how fast pmr-gen makes each kind of data.
#
# Builds pmr-gen and the bench tools in BUILD_DIR (default $BUILD_DIR, else
# ./build, configured as Release if it does not exist yet), then makes SIZE
# bytes of each kind at each rank x thread layout, REPEAT times, interleaved
# so that drift of the machine hits all of them alike:
#
#   text      pmr-gen text -s SIZE                     (Zipf corpus, MPI-IO)
#   points    pmr-gen points -s SIZE -d 3 -k 100       (+ labels, 1/6 more bytes)
#   ar1       pmr-gen signal -s SIZE --phi 0.9         (blocked AR(1) recurrence)
#   uniform   pmr-gen numbers -s SIZE
#   normal    pmr-gen numbers -s SIZE --dist normal    (Box-Muller)
#
# and prints, per kind and layout, the median wall time (the whole command,
# mpirun included), the rate in MB/s (10^6 bytes written per second of wall
# time; points count their labels too), the generator's own rate (bytes per
# second of its slowest rank's generate phase, from --stats), the write
# phase, the speed-up over 1 rank x 1 thread, the peak RSS of each rank, and
# whether the output is identical to the 1 x 1 run's (cmp for text; h5diff
# of the datasets, attributes such as nranks aside). A benchmark, not a
# test: it fails (exit 1) only when a run fails or outputs differ.
#
# Environment (defaults in brackets):
#   REPEAT [3]                     runs per configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench] where the outputs go (gen/; removed as it goes)
#   PMR_BENCH_GEN_SIZE [256M]      bytes of each kind
#   PMR_BENCH_GEN_KINDS [text points ar1 uniform normal]
#   PMR_BENCH_GEN_LAYOUTS [1x1 2x1 1x2]   ranks x threads
#   PMR_BENCH_MPIRUN [mpirun]  PMR_BENCH_PML [ob1]   as in bench/run.sh
#   PMR_GEN                        use this pmr-gen instead of BUILD_DIR's
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
size=${PMR_BENCH_GEN_SIZE:-256M}
read -r -a kinds <<<"${PMR_BENCH_GEN_KINDS:-text points ar1 uniform normal}"
read -r -a layouts <<<"${PMR_BENCH_GEN_LAYOUTS:-1x1 2x1 1x2}"
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
for l in "${layouts[@]}"; do
  [[ $l =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "layout '$l' is not RANKSxTHREADS, e.g. 2x1"
done
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
command -v h5diff >/dev/null || die "h5diff (hdf5-tools) is needed to compare the outputs"

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
if [[ -n ${PMR_GEN:-} ]]; then
  gen=$PMR_GEN
else
  cmake --build "$build" --target pmr-gen -j "$ncpu" >/dev/null \
    || die "building pmr-gen in $build failed (cmake --build $build --target pmr-gen)"
  gen=$build/apps/gen/pmr-gen
fi
[[ -x $gen ]] || die "no pmr-gen at $gen"
if cmake --build "$build" --target pmr-rss-wrap -j "$ncpu" >/dev/null 2>&1; then
  wrap=$build/bench/pmr-rss-wrap
else
  mkdir -p "$cache/bin"
  "${CC:-cc}" -std=c17 -O2 -Wall -Wextra -o "$cache/bin/pmr-rss-wrap" "$here/rss_wrap.c"
  wrap=$cache/bin/pmr-rss-wrap
fi

# --- launcher -------------------------------------------------------------------
mpiflags=()
mpi_version=$("$mpirun" --version 2>&1 || true)
if [[ $mpi_version == *"Open MPI"* || $mpi_version == *OpenRTE* ]]; then
  mpiflags=(--bind-to none --oversubscribe)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi

rundir=$cache/gen
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0
declare -A check

args_for() { # kind -> the array `kargs` and the output name in `out`, dataset in `dset`
  case $1 in
    text) kargs=(text -s "$size"); out=$1.txt; dset= ;;
    points) kargs=(points -s "$size" -d 3 -k 100); out=$1.h5; dset=/points ;;
    ar1) kargs=(signal -s "$size" --phi 0.9); out=$1.h5; dset=/signal ;;
    uniform) kargs=(numbers -s "$size"); out=$1.h5; dset=/numbers ;;
    normal) kargs=(numbers -s "$size" --dist normal); out=$1.h5; dset=/numbers ;;
    *) die "unknown kind '$1' (text points ar1 uniform normal)" ;;
  esac
}

now() { date +%s.%N; }

run_one() { # kind layout rep
  local k=$1 l=$2 rep=$3 np=${2%x*} nt=${2#*x} tag=$1.$2.$3 t0 t1 wall rss gen_s write_s bytes f r
  args_for "$k"
  local target=$rundir/$l.$out
  rm -f "$target" "$rundir/rss.$tag".*
  cmd=("$mpirun" -np "$np" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$gen" "${kargs[@]}"
       -t "$nt" --no-progress --stats -o "$target")
  t0=$(now)
  if ! "${cmd[@]}" >"$rundir/$tag.stdout" 2>"$rundir/$tag.stderr"; then
    say "bench: $k at $l failed (run $rep): ${cmd[*]}"
    sed 's/^/  | /' "$rundir/$tag.stderr" >&2
    status=1
    return
  fi
  t1=$(now)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  gen_s=$(awk '$1 == "generate" { print $4 }' "$rundir/$tag.stderr")
  write_s=$(awk '$1 == "write" { print $4 }' "$rundir/$tag.stderr")
  bytes=$(awk '$1 == "bytes" { print $2 }' "$rundir/$tag.stderr")
  rss=""
  for ((r = 0; ; r++)); do
    f=$rundir/rss.$tag.$r
    [[ -f $f ]] || break
    rss+=" $(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$f")"
  done
  echo "$k $l $rep $wall ${gen_s:-nan} ${write_s:-nan} ${bytes:-0}$rss" >>"$results"
  # The same bytes as the 1 x 1 run (the first layout's output is kept).
  local first=$rundir/${layouts[0]}.$out
  if [[ $l != "${layouts[0]}" && -f $first ]]; then
    local same=1
    if [[ -z $dset ]]; then
      cmp -s "$first" "$target" || same=0
    else
      h5diff -q --exclude-attribute "$dset" "$first" "$target" || same=0
    fi
    if ((same)); then
      check[$k.$l]=${check[$k.$l]:-identical}
    else
      check[$k.$l]=DIFFERENT
      status=1
      say "bench: $k at $l (run $rep) differs from ${layouts[0]}"
    fi
  fi
  [[ $l == "${layouts[0]}" ]] || rm -f "$target"
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  say "bench: warning: load average $load_before on $ncpu cores; other work will skew the timings"
fi
say "bench: $repeat x {${kinds[*]}} x {${layouts[*]}}, $size each, in $rundir"
for ((rep = 1; rep <= repeat; rep++)); do
  for k in "${kinds[@]}"; do
    for l in "${layouts[@]}"; do
      run_one "$k" "$l" "$rep"
    done
  done
done
rm -f "$rundir"/*.txt "$rundir"/*.h5

# --- report ------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
version=$("$gen" --version 2>/dev/null || true)
echo
echo "pmr-gen benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$gen}; $size of each kind, written to $rundir"
echo "runs    : $repeat per configuration, interleaved, medians; MB/s = 10^6 bytes written per"
echo "          second of wall time (mpirun included); gen MB/s = per second of the slowest"
echo "          rank's generate phase; write = its write phase; speed-up = wall of ${layouts[0]} / wall"
echo
printf '%-8s %-7s %4s %9s %8s %9s %9s %8s  %-18s %s\n' kind "r x t" runs "wall [s]" "MB/s" \
  "gen MB/s" "write [s]" speed-up "peak RSS/rank [MiB]" result
for k in "${kinds[@]}"; do
  base=$(awk -v k="$k" -v l="${layouts[0]}" '$1 == k && $2 == l { print $4 }' "$results" | median)
  for l in "${layouts[@]}"; do
    n=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l' "$results" | wc -l)
    if ((n == 0)); then
      printf '%-8s %-7s %4s   (no successful run)\n' "$k" "$l" 0
      continue
    fi
    w=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l { print $4 }' "$results" | median)
    g=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l { print $5 }' "$results" | median)
    ws=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l { print $6 }' "$results" | median)
    b=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l { print $7; exit }' "$results")
    rss=$(awk -v k="$k" -v l="$l" '$1 == k && $2 == l { for (i = 8; i <= NF; i++) if ($i > m[i-8]) m[i-8] = $i; n = (NF - 7 > n ? NF - 7 : n) }
          END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
    mbs=$(awk -v b="$b" -v w="$w" 'BEGIN { printf "%.1f", (w > 0 ? b / w / 1e6 : 0) }')
    gmbs=$(awk -v b="$b" -v g="$g" 'BEGIN { printf "%.1f", (g > 0 ? b / g / 1e6 : 0) }')
    sp=$(awk -v a="$base" -v w="$w" 'BEGIN { printf "%.2f", (w > 0 ? a / w : 0) }')
    if [[ $l == "${layouts[0]}" ]]; then
      result="(reference)"
    else
      result=${check[$k.$l]:-unchecked}
    fi
    printf '%-8s %-7s %4d %9.3f %8s %9s %9.3f %8s  %-18s %s\n' "$k" "$l" "$n" "$w" "$mbs" "$gmbs" \
      "$ws" "$sp" "$rss" "$result"
  done
done
echo
echo "launcher: ${mpiflags[*]:-(none)}"
echo "raw     : $results (kind layout rep wall gen-s write-s bytes rss-KiB-per-rank...)"
exit $status
