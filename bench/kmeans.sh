#!/usr/bin/env bash
# bench/kmeans.sh [BUILD_DIR]: pmr-kmeans against a minimal C Lloyd loop.
#
# Builds pmr-kmeans and the bench tools in BUILD_DIR (default $BUILD_DIR,
# else ./build, configured as Release if it does not exist yet), makes the
# points once (bench/kmeans_gen.py; cached), then runs every configuration
# REPEAT times, interleaved so that drift of the machine hits all alike:
#
#   baseline   pmr-bench-kmeans-baseline -t T -i ITERS   (OpenMP, plain sums)
#   pmr 1xT    mpirun -np 1 pmr-kmeans -t T --init FILE --iters ITERS --tol 0
#   pmr Tx1    mpirun -np T pmr-kmeans -t 1 ...
#
# all from the same initial centroids, for exactly ITERS iterations, and
# prints the median seconds of the iterations (as each program times them:
# loading and start-up excluded), point-iterations per second per thread
# and per CPU second, their ratios to the baseline, the target (4 x
# Phoenix++'s 5.2 M/s per thread), and the peak RSS of every rank beside
# the memory budget plus the rank's block of points. It also checks that
# pmr's two layouts give identical centroids (bit for bit) and how far the
# baseline's plainly summed centroids are from them. A benchmark, not a
# test: it fails (exit 1) only when a run fails or the results disagree.
#
# Environment (defaults in brackets):
#   REPEAT [3]                 runs per configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench]   cache for the points and run outputs
#   PMR_KM_N [10000000] PMR_KM_D [3] PMR_KM_K [100] PMR_KM_SEED [42]   the points
#   PMR_KM_ITERS [10]          iterations
#   PMR_BENCH_THREADS [2]      T above
#   PMR_BENCH_MEMORY [256M]    pmr's memory budget per rank (-m)
#   PMR_BENCH_MPIRUN [mpirun]  PMR_BENCH_PML [ob1]   as bench/run.sh
#   PMR_KMEANS                 use this pmr-kmeans instead of BUILD_DIR's
#   OMP_WAIT_POLICY [passive]  for both programs
#   PYTHON [/usr/bin/python3 if it has numpy and h5py, else python3]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
n=${PMR_KM_N:-10000000}
d=${PMR_KM_D:-3}
k=${PMR_KM_K:-100}
seed=${PMR_KM_SEED:-42}
iters=${PMR_KM_ITERS:-10}
threads=${PMR_BENCH_THREADS:-2}
memory=${PMR_BENCH_MEMORY:-256M}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
phoenix=5.2 # M point-iterations/s per thread, Phoenix++ on this size (the issue)
target=$(awk -v p="$phoenix" 'BEGIN { print 4 * p }')
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

for v in repeat n d k iters threads; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
python=${PYTHON:-}
if [[ -z $python ]]; then
  for p in /usr/bin/python3 python3; do
    if "$p" -c 'import numpy, h5py' 2>/dev/null; then
      python=$p
      break
    fi
  done
fi
[[ -n $python ]] || die "no python3 with numpy and h5py (set PYTHON)"

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
if [[ -n ${PMR_KMEANS:-} ]]; then
  app=$PMR_KMEANS
else
  cmake --build "$build" --target pmr-kmeans -j "$ncpu" >/dev/null \
    || die "building pmr-kmeans in $build failed (cmake --build $build --target pmr-kmeans)"
  app=$build/apps/kmeans/pmr-kmeans
fi
[[ -x $app ]] || die "no pmr-kmeans at $app"
mkdir -p "$cache"
if cmake --build "$build" --target pmr-bench-kmeans-baseline pmr-rss-wrap -j "$ncpu" \
  >/dev/null 2>&1; then
  tools=$build/bench
else # the project does not include bench/: build the two tools directly
  tools=$cache/bin
  mkdir -p "$tools"
  cc=${CC:-cc}
  "$cc" -std=c17 -O2 -Wall -Wextra -fopenmp -o "$tools/pmr-bench-kmeans-baseline" \
    "$here/kmeans_baseline.c"
  "$cc" -std=c17 -O2 -Wall -Wextra -o "$tools/pmr-rss-wrap" "$here/rss_wrap.c"
fi
baseline=$tools/pmr-bench-kmeans-baseline
wrap=$tools/pmr-rss-wrap

# --- points (made once) ---------------------------------------------------------
data=$cache/kmeans-n$n-d$d-k$k-s$seed
if [[ ! -s $data.h5 || ! -s $data.points.f64 || ! -s $data.init.f64 ]]; then
  say "bench: generating $data.{h5,points.f64,init.f64}"
  "$python" "$here/kmeans_gen.py" -n "$n" -d "$d" -k "$k" -s "$seed" -o "$data"
fi
cat "$data.h5" "$data.points.f64" >/dev/null # warm page cache for every run

# Idle OpenMP threads sleep rather than spin, in both programs, so that CPU
# seconds count work (they are the fair figure on a machine with other load).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

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

rundir=$cache/kmeans-run
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0
configs=(baseline pmr1xT pmrTx1)
declare -A label ranks
label[baseline]="baseline, $threads threads"
label[pmr1xT]="pmr 1 rank x $threads threads"
label[pmrTx1]="pmr $threads ranks x 1 thread"
ranks[baseline]=1
ranks[pmr1xT]=1
ranks[pmrTx1]=$threads

command_for() { # config rep -> the command in the array `cmd`
  local c=$1 tag=$1.$2
  local pmr=("$app" --init "$data.h5:/init" --iters "$iters" --tol 0 -m "$memory"
             --no-progress --stats "$data.h5:/points" -o "$rundir/$c.h5")
  case $c in
    baseline) cmd=("$wrap" "$rundir/rss.$tag" "$baseline" -t "$threads" -i "$iters"
                   -o "$rundir/baseline.f64" "$data.points.f64" "$data.init.f64" "$d") ;;
    pmr1xT) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "${pmr[@]}"
                 -t "$threads") ;;
    pmrTx1) cmd=("$mpirun" -np "$threads" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag"
                 "${pmr[@]}" -t 1) ;;
  esac
}

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 line secs cpu rss r
  command_for "$c" "$rep"
  rm -f "$rundir/rss.$tag".*
  if ! "${cmd[@]}" >"$rundir/$tag.stdout" 2>"$rundir/$tag.stderr"; then
    say "bench: ${label[$c]} failed (run $rep): ${cmd[*]}"
    sed 's/^/  | /' "$rundir/$tag.stderr" >&2
    status=1
    return
  fi
  # "... iterations ... in S s, cpu C s: ..." from either program
  line=$(grep -m1 -E 'iterations .*in [0-9.]+ s, cpu [0-9.]+ s' "$rundir/$tag.stderr" || true)
  secs=$(sed -nE 's/.* in ([0-9.]+) s, cpu.*/\1/p' <<<"$line")
  cpu=$(sed -nE 's/.*, cpu ([0-9.]+) s.*/\1/p' <<<"$line")
  if [[ -z $secs || -z $cpu ]]; then
    say "bench: ${label[$c]} (run $rep) printed no timing line"
    status=1
    return
  fi
  rss=""
  for ((r = 0; r < ranks[$c]; r++)); do
    rss+=" $(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$rundir/rss.$tag.$r" 2>/dev/null || echo 0)"
  done
  echo "$c $rep $secs $cpu$rss" >>"$results"
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  say "bench: warning: load average $load_before on $ncpu cores; other work will skew the wall times (compare the per-cpu-second figures)"
fi
say "bench: $repeat x {${configs[*]}}, $iters iterations on $data"
for ((rep = 1; rep <= repeat; rep++)); do
  for c in "${configs[@]}"; do
    run_one "$c" "$rep"
  done
done

# --- checks: pmr's layouts agree bit for bit; the baseline to rounding ------------
check=$("$python" - "$rundir" "$d" <<'EOF' || true
import sys, os
import numpy as np, h5py
run, d = sys.argv[1], int(sys.argv[2])
out = []
a = os.path.join(run, "pmr1xT.h5"); b = os.path.join(run, "pmrTx1.h5")
if os.path.exists(a) and os.path.exists(b):
    ca, cb = (h5py.File(p, "r")["kmeans/centroids"][()] for p in (a, b))
    out.append("pmr 1xT vs Tx1 centroids: %s" % ("identical bits" if ca.tobytes() == cb.tobytes() else "DIFFERENT"))
    base = os.path.join(run, "baseline.f64")
    if os.path.exists(base):
        cc = np.fromfile(base).reshape(-1, d)
        rel = np.abs(cc - ca).max() / max(np.abs(ca).max(), 1e-300)
        out.append("baseline vs pmr centroids: max difference %.2e relative to the largest coordinate%s"
                   % (rel, "" if rel < 1e-6 else " (TOO LARGE)"))
print("\n".join(out))
EOF
)
[[ $check == *DIFFERENT* || $check == *"TOO LARGE"* ]] && status=1

# --- report ------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
version=$("$mpirun" -np 1 "${mpiflags[@]}" "$app" --version 2>/dev/null || true)
version=${version%%$'\n'*}
kernel=$(sed -nE 's/.*kernel ([^;]*);.*/\1/p' "$rundir/pmr1xT.1.stderr" 2>/dev/null | head -1)
sums=$(sed -nE 's/.*sums (.*)$/\1/p' "$rundir/pmr1xT.1.stderr" 2>/dev/null | head -1)
pi=$(awk -v n="$n" -v i="$iters" 'BEGIN { printf "%.0f", n * i }')
block_mib() { awk -v n="$n" -v d="$d" -v r="$1" 'BEGIN { printf "%.1f", (n + r - 1) / r * d * 8 / 1048576 }'; }
budget_mib=$(awk -v m="$memory" 'BEGIN { u = toupper(substr(m, length(m))); v = m + 0;
  f = u == "K" ? 1 / 1024 : u == "M" ? 1 : u == "G" ? 1024 : u == "T" ? 1048576 : 1 / 1048576; printf "%.0f", v * f }')
echo
echo "pmr-kmeans benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$app}; kernel ${kernel:-?}; sums ${sums:-?}"
echo "points  : $data.h5 ($n x $d float64, k = $k, $iters iterations from the same initial centroids)"
echo "runs    : $repeat per configuration, interleaved, medians; seconds = the iterations as each program"
echo "          times them (loading, start-up excluded); per thread = point-iterations / s / threads"
echo "          (best = from the fastest run); per cpu-s = point-iterations / CPU second of all threads"
echo
base_s=$(awk '$1 == "baseline" { print $3 }' "$results" | median)
base_c=$(awk '$1 == "baseline" { print $4 }' "$results" | median)
printf '%-28s %4s %9s %11s %6s %6s %11s %6s  %-20s %s\n' configuration runs "iter [s]" "M/s/thread" ratio \
  best "M/cpu-s" ratio "peak RSS/rank [MiB]" "budget + block [MiB]"
best=0
for c in "${configs[@]}"; do
  cnt=$(awk -v c="$c" '$1 == c' "$results" | wc -l)
  if ((cnt == 0)); then
    printf '%-28s %4s   (no successful run)\n' "${label[$c]}" 0
    continue
  fi
  s=$(awk -v c="$c" '$1 == c { print $3 }' "$results" | median)
  smin=$(awk -v c="$c" '$1 == c { print $3 }' "$results" | sort -g | head -1)
  u=$(awk -v c="$c" '$1 == c { print $4 }' "$results" | median)
  nthr=$threads
  rate=$(awk -v p="$pi" -v s="$s" -v t="$nthr" 'BEGIN { printf "%.2f", p / s / t / 1e6 }')
  brate=$(awk -v p="$pi" -v s="$smin" -v t="$nthr" 'BEGIN { printf "%.2f", p / s / t / 1e6 }')
  crate=$(awk -v p="$pi" -v u="$u" 'BEGIN { printf "%.2f", p / u / 1e6 }')
  rr=$(awk -v x="$base_s" -v s="$s" 'BEGIN { printf "%.2f", x / s }')
  rc=$(awk -v x="$base_c" -v u="$u" 'BEGIN { printf "%.2f", x / u }')
  rss=$(awk -v c="$c" '$1 == c { for (i = 5; i <= NF; i++) if ($i > m[i-5]) m[i-5] = $i; n = (NF - 4 > n ? NF - 4 : n) }
        END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
  if [[ $c == baseline ]]; then
    bound="(points $(block_mib 1) MiB)"
  else
    bound="$budget_mib + $(block_mib "${ranks[$c]}")"
    best=$(awk -v a="$best" -v b="$brate" 'BEGIN { print (b > a ? b : a) }')
  fi
  printf '%-28s %4d %9.3f %11s %6s %6s %11s %6s  %-20s %s\n' "${label[$c]}" "$cnt" "$s" "$rate" "$rr" \
    "$brate" "$crate" "$rc" "$rss" "$bound"
done
echo
echo "target  : >= $target M point-iterations/s per thread (4 x Phoenix++'s $phoenix M/s on this size);" \
  "best pmr run: $best M/s, $(awk -v b="$best" -v t="$target" 'BEGIN { print (b >= t ? "met" : "MISSED") }')"
[[ -z $check ]] || echo "check   : ${check//$'\n'/$'\n          '}"
echo "launcher: ${mpiflags[*]:-(none)}"
echo "raw     : $results (config rep iter-seconds cpu-seconds rss-KiB-per-rank...)"
exit $status
