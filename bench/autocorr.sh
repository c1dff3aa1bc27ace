#!/usr/bin/env bash
# bench/autocorr.sh [BUILD_DIR]: pmr-autocorr against numpy's autocorrelation.
#
# Builds pmr-autocorr and pmr-rss-wrap in BUILD_DIR (default $BUILD_DIR, else
# ./build, configured as Release if it does not exist yet), writes a float64
# series of N samples once (bench/make_signal.py, cached), then runs every
# configuration REPEAT times, interleaved so that drift of the machine hits
# all of them alike:
#
#   numpy         bench/autocorr_numpy.py: h5py read, then rfft/irfft of the
#                 next power of two >= N + L: the numpy reference (what
#                 statsmodels' acf(fft=True) does; np.correlate is O(N^2))
#   numpy blocked the same script, --method blocked: pmr's own algorithm
#                 (overlapping pieces, batched rfft of cache-sized lengths)
#                 in numpy, the strongest numpy contender
#   pmr 1xT       mpirun -np 1 pmr-autocorr -t T   (--method auto: FFT at L >= 64)
#   pmr Tx1       mpirun -np T pmr-autocorr -t 1
#   direct 1xT    mpirun -np 1 pmr-autocorr -t T --method direct
#
# and prints the median wall time of each, numpy's divided by it (for both
# numpy forms), numpy's read and compute seconds, peak RSS of every rank, and the largest
# difference of pmr's lag sums from numpy's relative to r[0]. A benchmark,
# not a test: it fails (exit 1) only when a run fails or a result differs
# from numpy's by more than 1e-9 of r[0].
#
# Environment (defaults in brackets):
#   REPEAT [1]                    runs per configuration (numpy's whole-series
#                                 FFT alone takes a minute or more at 10^8)
#   PMR_BENCH_DIR [/tmp/pmr-bench]   cache for the series and run outputs
#   PMR_BENCH_AC_N [1e8]          samples (the issue's size; 8 bytes each)
#   PMR_BENCH_AC_LAG [1000]       --max-lag
#   PMR_BENCH_AC_DIRECT [1]       0: leave out the direct-sums configuration
#   PMR_BENCH_THREADS [2]         T above
#   PMR_BENCH_MPIRUN [mpirun]     launcher
#   PMR_BENCH_PML [ob1]           Open MPI point-to-point layer (see run.sh)
#   PMR_BENCH_ARGS []             extra pmr-autocorr options, e.g. "-m 1G"
#   PMR_PYTHON [/usr/bin/python3] a Python with numpy and h5py
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-1}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
n=${PMR_BENCH_AC_N:-1e8}
lag=${PMR_BENCH_AC_LAG:-1000}
with_direct=${PMR_BENCH_AC_DIRECT:-1}
threads=${PMR_BENCH_THREADS:-2}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
python=${PMR_PYTHON:-/usr/bin/python3}
read -r -a extra <<<"${PMR_BENCH_ARGS:-}"
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "PMR_BENCH_THREADS must be a positive integer"
[[ $lag =~ ^[0-9]+$ ]] || die "PMR_BENCH_AC_LAG must be an integer >= 0"
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
"$python" -c 'import numpy, h5py' 2>/dev/null || die "$python cannot import numpy and h5py"
samples=$("$python" -c "import sys; print(int(float(sys.argv[1])))" "$n") \
  || die "PMR_BENCH_AC_N must be a number, got '$n'"

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
cmake --build "$build" --target pmr-autocorr -j "$ncpu" >/dev/null \
  || die "building pmr-autocorr in $build failed (cmake --build $build --target pmr-autocorr)"
app=$build/apps/autocorr/pmr-autocorr
[[ -x $app ]] || die "no pmr-autocorr at $app"
mkdir -p "$cache"
if cmake --build "$build" --target pmr-rss-wrap -j "$ncpu" >/dev/null 2>&1; then
  wrap=$build/bench/pmr-rss-wrap
else
  mkdir -p "$cache/bin"
  "${CC:-cc}" -std=c17 -O2 -Wall -Wextra -o "$cache/bin/pmr-rss-wrap" "$here/rss_wrap.c"
  wrap=$cache/bin/pmr-rss-wrap
fi

# --- the series (made once) -----------------------------------------------------
signal=$cache/signal-$samples-s42.h5
if [[ ! -s $signal ]]; then
  say "bench: generating $signal ($samples samples)"
  "$python" "$here/make_signal.py" "$signal" "$samples" --seed 42
fi
cat "$signal" >/dev/null # every configuration starts from a warm page cache
spec=$signal:/signal

# --- launcher -------------------------------------------------------------------
mpiflags=()
mpi_version=$("$mpirun" --version 2>&1 || true)
if [[ $mpi_version == *"Open MPI"* || $mpi_version == *OpenRTE* ]]; then
  mpiflags=(--bind-to none)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  ((threads <= ncpu)) || mpiflags+=(--oversubscribe)
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi

rundir=$cache/autocorr-run
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0

configs=(numpy blocked pmr1xT pmrTx1)
((with_direct)) && configs+=(direct1xT)
declare -A label
label[numpy]="numpy rfft/irfft, 1 process"
label[blocked]="numpy blocked, 1 process"
label[pmr1xT]="pmr 1 rank x $threads threads"
label[pmrTx1]="pmr $threads ranks x 1 thread"
label[direct1xT]="pmr direct, 1 x $threads"

command_for() { # config rep -> the command in the array `cmd`
  local c=$1 tag=$1.$2
  local common=(--no-progress "$spec" --max-lag "$lag" -o "$rundir/$c.h5" "${extra[@]}")
  case $c in
    numpy) cmd=("$wrap" "$rundir/rss.$tag" "$python" "$here/autocorr_numpy.py" "$spec" "$lag"
                "$rundir/numpy.npy") ;;
    blocked) cmd=("$wrap" "$rundir/rss.$tag" "$python" "$here/autocorr_numpy.py" "$spec" "$lag"
                  "$rundir/blocked.npy" --method blocked) ;;
    pmr1xT) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t "$threads" "${common[@]}") ;;
    pmrTx1) cmd=("$mpirun" -np "$threads" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t 1 "${common[@]}") ;;
    direct1xT) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                    -t "$threads" --method direct "${common[@]}") ;;
  esac
}

now() { date +%s.%N; }

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 t0 t1 wall appwall cpu rss r
  command_for "$c" "$rep"
  rm -f "$rundir/rss.$tag".*
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
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  say "bench: warning: load average $load_before on $ncpu cores; other work will skew the timings"
fi
say "bench: $repeat x {${configs[*]}} on $spec, L = $lag"
for ((rep = 1; rep <= repeat; rep++)); do
  for c in "${configs[@]}"; do
    run_one "$c" "$rep"
  done
done

# --- the results against numpy's ------------------------------------------------------
declare -A check
for c in "${configs[@]}"; do
  [[ $c == numpy ]] && continue
  out=$rundir/$c.h5
  [[ $c == blocked ]] && out=$rundir/blocked.npy
  if [[ ! -f $out || ! -f $rundir/numpy.npy ]]; then
    check[$c]="NO OUTPUT"
    status=1
    continue
  fi
  err=$("$python" - "$out" "$rundir/numpy.npy" <<'EOF'
import sys, h5py, numpy as np
if sys.argv[1].endswith(".npy"):
    r = np.load(sys.argv[1])
else:
    r = h5py.File(sys.argv[1], "r")["autocorr/r"][()]
ref = np.load(sys.argv[2])
print("%.2e" % (np.max(np.abs(r - ref)) / abs(ref[0])) if r.shape == ref.shape else "shape")
EOF
  )
  if [[ $err == shape ]] || awk -v e="$err" 'BEGIN { exit !(e > 1e-9) }'; then
    check[$c]="DIFFERS ($err of r[0])"
    status=1
  else
    check[$c]="max err $err of r[0]"
  fi
done

# --- report ------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
version=$("$mpirun" -np 1 "${mpiflags[@]}" "$app" --version 2>/dev/null || true)
version=${version%%$'\n'*}
np_read=$(sed -n 's/.*read_s=\([0-9.]*\).*/\1/p' "$rundir"/numpy.*.stdout | median)
np_comp=$(sed -n 's/.*compute_s=\([0-9.]*\).*/\1/p' "$rundir"/numpy.*.stdout | median)
np_fft=$(sed -n 's/.*nfft=\([0-9]*\).*/\1/p' "$rundir/numpy.1.stdout" 2>/dev/null || true)
bl_comp=$(sed -n 's/.*compute_s=\([0-9.]*\).*/\1/p' "$rundir"/blocked.*.stdout | median)
bl_fft=$(sed -n 's/.*nfft=\([0-9]*\).*/\1/p' "$rundir/blocked.1.stdout" 2>/dev/null || true)
echo
echo "pmr-autocorr benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$app}; numpy $("$python" -c 'import numpy; print(numpy.__version__)')"
echo "series  : $spec ($samples float64 samples, $(stat -c %s "$signal") bytes), lags 0..$lag"
echo "numpy   : read ${np_read} s + rfft/irfft of ${np_fft:-?} points ${np_comp} s; blocked: pieces"
echo "          of ${bl_fft:-?} points ${bl_comp} s after the read (medians)"
echo "runs    : $repeat per configuration, interleaved, medians; wall = whole command incl. mpirun"
echo "          and Python start, cpu = user+system seconds of all ranks, RSS = peak per rank"
echo
base_wall=$(awk '$1 == "numpy" { print $3 }' "$results" | median)
bl_wall=$(awk '$1 == "blocked" { print $3 }' "$results" | median)
printf '%-28s %4s %9s %9s %10s %8s  %-20s %s\n' configuration runs "wall [s]" "vs numpy" \
  "vs blocked" "cpu [s]" "peak RSS/rank [MiB]" "result"
for c in "${configs[@]}"; do
  k=$(awk -v c="$c" '$1 == c' "$results" | wc -l)
  if ((k == 0)); then
    printf '%-28s %4s   (no successful run)\n' "${label[$c]}" 0
    continue
  fi
  w=$(awk -v c="$c" '$1 == c { print $3 }' "$results" | median)
  u=$(awk -v c="$c" '$1 == c { print $5 }' "$results" | median)
  rw=$(awk -v x="$w" -v b="$base_wall" 'BEGIN { if (x > 0 && b > 0) printf "%.2fx", b / x; else print "-" }')
  rb=$(awk -v x="$w" -v b="$bl_wall" 'BEGIN { if (x > 0 && b > 0) printf "%.2fx", b / x; else print "-" }')
  rss=$(awk -v c="$c" '$1 == c { for (i = 6; i <= NF; i++) if ($i > m[i-6]) m[i-6] = $i; n = (NF - 5 > n ? NF - 5 : n) }
        END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
  result=${check[$c]:-"(reference)"}
  printf '%-28s %4d %9.3f %9s %10s %8.3f  %-20s %s\n' "${label[$c]}" "$k" "$w" "$rw" "$rb" "$u" "$rss" \
    "$result"
done
echo
echo "vs numpy, vs blocked: numpy's wall time (whole-series FFT; blocked) / this configuration's"
echo "          (above 1: faster than numpy)."
echo "raw     : $results (config rep wall app-wall cpu rss-KiB-per-rank...)"
exit $status
