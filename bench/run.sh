#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR]: pmr-wordcount against a minimal C word counter.
#
# Builds pmr-wordcount, pmr-gen and the bench tools in BUILD_DIR (default $BUILD_DIR, else
# ./build, configured as Release if it does not exist yet), makes a Zipf corpus once
# with pmr-gen text (cached), then runs every configuration REPEAT times, interleaved so that
# drift of the machine hits all of them alike:
#
#   baseline   pmr-bench-baseline -t T                 (mmap + pthreads)
#   pmr 1xT    mpirun -np 1 --bind-to none pmr-wordcount -t T
#   pmr Tx1    mpirun -np T --bind-to none pmr-wordcount -t 1
#
# and prints median wall time, its ratio to the baseline, peak RSS of every
# rank, and whether pmr's word counts equal the baseline's. A benchmark, not
# a test: it fails (exit 1) only when a run fails or the counts differ.
#
# Environment (defaults in brackets):
#   REPEAT [3]                  runs per configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench]   cache for the corpus and run outputs
#   PMR_BENCH_SIZE [256M]  PMR_BENCH_VOCAB [200000]
#   PMR_BENCH_EXPONENT [1.0]  PMR_BENCH_SEED [42]   the corpus
#   PMR_BENCH_THREADS [2]       T above
#   PMR_BENCH_MPIRUN [mpirun]   launcher
#   PMR_BENCH_PML [ob1]         Open MPI point-to-point layer (--mca pml); ob1 is
#                               what a node without a fast network ends up with
#                               anyway, named here so that MPI_Init skips probing
#                               UCX/OFI (~0.2 s); empty: Open MPI's own choice
#   PMR_BENCH_ARGS []           extra pmr-wordcount options, e.g. "-o /tmp/wc.h5 --stats"
#   PMR_WORDCOUNT               use this pmr-wordcount instead of BUILD_DIR's
#   PMR_GEN                     use this pmr-gen instead of BUILD_DIR's
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
cache=${PMR_BENCH_DIR:-/tmp/pmr-bench}
size=${PMR_BENCH_SIZE:-256M}
vocab=${PMR_BENCH_VOCAB:-200000}
exponent=${PMR_BENCH_EXPONENT:-1.0}
seed=${PMR_BENCH_SEED:-42}
threads=${PMR_BENCH_THREADS:-2}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
read -r -a extra <<<"${PMR_BENCH_ARGS:-}"
target_ratio=1.2
target_rss_mib=64
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "PMR_BENCH_THREADS must be a positive integer"
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
if [[ -n ${PMR_WORDCOUNT:-} ]]; then
  app=$PMR_WORDCOUNT
else
  cmake --build "$build" --target pmr-wordcount -j "$ncpu" >/dev/null \
    || die "building pmr-wordcount in $build failed (cmake --build $build --target pmr-wordcount)"
  app=$build/apps/wordcount/pmr-wordcount
fi
[[ -x $app ]] || die "no pmr-wordcount at $app"
if [[ -n ${PMR_GEN:-} ]]; then
  gen=$PMR_GEN
else
  cmake --build "$build" --target pmr-gen -j "$ncpu" >/dev/null \
    || die "building pmr-gen in $build failed (cmake --build $build --target pmr-gen)"
  gen=$build/apps/gen/pmr-gen
fi
[[ -x $gen ]] || die "no pmr-gen at $gen"

mkdir -p "$cache"
if cmake --build "$build" --target pmr-bench-tools -j "$ncpu" >/dev/null 2>&1; then
  tools=$build/bench
else # the project does not include bench/: build the two tools directly
  tools=$cache/bin
  mkdir -p "$tools"
  cc=${CC:-cc}
  flags=(-std=c17 -O2 -Wall -Wextra)
  "$cc" "${flags[@]}" -o "$tools/pmr-bench-baseline" "$here/wc_baseline.c" -pthread
  "$cc" "${flags[@]}" -o "$tools/pmr-rss-wrap" "$here/rss_wrap.c"
fi
baseline=$tools/pmr-bench-baseline
wrap=$tools/pmr-rss-wrap

# --- corpus (made once) -------------------------------------------------------
# pmr-gen writes it under its final name only when complete; the same bytes at
# any rank and thread count, so one process with every core will do.
corpus=$cache/gen-text-$size-v$vocab-e$exponent-s$seed.txt
if [[ ! -s $corpus ]]; then
  say "bench: generating $corpus"
  "$gen" text -s "$size" -V "$vocab" -e "$exponent" -S "$seed" -t "$ncpu" --no-progress \
    --stats -o "$corpus"
fi
cat "$corpus" >/dev/null # every configuration starts from a warm page cache

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

rundir=$cache/run
rm -rf "$rundir"
mkdir -p "$rundir"
results=$rundir/results
: >"$results"
status=0

configs=(baseline pmr1xT pmrTx1 startup)
: >"$rundir/empty.txt"
declare -A label check
label[baseline]="baseline, $threads threads"
label[pmr1xT]="pmr 1 rank x $threads threads"
label[pmrTx1]="pmr $threads ranks x 1 thread"
label[startup]="pmr 1 rank, empty input"

command_for() { # config rep -> the command in the array `cmd`
  local c=$1 tag=$1.$2
  case $c in
    baseline) cmd=("$wrap" "$rundir/rss.$tag" "$baseline" -t "$threads" -v
                   -o "$rundir/$c.txt" "$corpus") ;;
    pmr1xT) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t "$threads" --no-progress --text "$rundir/$c.txt" "${extra[@]}" "$corpus") ;;
    pmrTx1) cmd=("$mpirun" -np "$threads" "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                 -t 1 --no-progress --text "$rundir/$c.txt" "${extra[@]}" "$corpus") ;;
    # The fixed cost: launch, MPI_Init, MPI_Finalize, nothing to count.
    startup) cmd=("$mpirun" -np 1 "${mpiflags[@]}" "$wrap" "$rundir/rss.$tag" "$app"
                  -t 1 --no-progress --text "$rundir/$c.txt" "$rundir/empty.txt") ;;
  esac
}

now() { date +%s.%N; }

run_one() { # config rep
  local c=$1 rep=$2 tag=$1.$2 t0 t1 wall appwall cpu rss r
  command_for "$c" "$rep"
  rm -f "$rundir/$c.txt" "$rundir/rss.$tag".*
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
  # Same words and counts as the baseline? (order of lines is unspecified)
  if [[ ! -f $rundir/$c.txt ]]; then
    say "bench: ${label[$c]} (run $rep) wrote no $rundir/$c.txt"
    check[$c]="NO OUTPUT"
    status=1
    return
  fi
  LC_ALL=C sort -o "$rundir/$c.sorted" "$rundir/$c.txt"
  if [[ $c != baseline && $c != startup && -f $rundir/baseline.sorted ]]; then
    if cmp -s "$rundir/$c.sorted" "$rundir/baseline.sorted"; then
      check[$c]=${check[$c]:-identical}
    else
      check[$c]="DIFFERENT"
      status=1
      say "bench: ${label[$c]} (run $rep) counts differ from the baseline; first differences:"
      LC_ALL=C comm -3 "$rundir/$c.sorted" "$rundir/baseline.sorted" | head -5 | cut -c1-100 >&2 || true
    fi
  fi
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  say "bench: warning: load average $load_before on $ncpu cores; other work will skew the timings"
fi
say "bench: $repeat x {${configs[*]}} on $corpus"
for ((rep = 1; rep <= repeat; rep++)); do
  for c in "${configs[@]}"; do
    run_one "$c" "$rep"
  done
done

# --- report ------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
version=$("$mpirun" -np 1 "${mpiflags[@]}" "$app" --version 2>/dev/null || true)
version=${version%%$'\n'*}
words=$(sed -n 's/.* bytes, \([0-9]*\) words, \([0-9]*\) distinct.*/\1 words, \2 distinct/p' \
  "$rundir/baseline.1.stderr" 2>/dev/null || true)
echo
echo "pmr-wordcount benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after; build $build ($build_type)"
echo "app     : ${version:-$app}"
echo "corpus  : $corpus ($(stat -c %s "$corpus") bytes, $words)"
echo "runs    : $repeat per configuration, interleaved, medians; wall = whole command incl. mpirun,"
echo "          app = slowest rank from exec to exit, cpu = user+system seconds of all ranks"
echo "          (least disturbed by other load), RSS = peak resident set of each rank"
echo
base_wall=$(awk '$1 == "baseline" { print $3 }' "$results" | median)
base_app=$(awk '$1 == "baseline" { print $4 }' "$results" | median)
base_cpu=$(awk '$1 == "baseline" { print $5 }' "$results" | median)
printf '%-28s %4s %9s %6s %8s %6s %8s %6s  %-20s %s\n' configuration runs "wall [s]" ratio \
  "app [s]" ratio "cpu [s]" ratio "peak RSS/rank [MiB]" "result"
worst_ratio=0
worst_rss=0
for c in "${configs[@]}"; do
  n=$(awk -v c="$c" '$1 == c' "$results" | wc -l)
  if ((n == 0)); then
    printf '%-28s %4s   (no successful run)\n' "${label[$c]}" 0
    continue
  fi
  w=$(awk -v c="$c" '$1 == c { print $3 }' "$results" | median)
  a=$(awk -v c="$c" '$1 == c { print $4 }' "$results" | median)
  u=$(awk -v c="$c" '$1 == c { print $5 }' "$results" | median)
  ru=$(awk -v x="$u" -v b="$base_cpu" 'BEGIN { if (b > 0) printf "%.2f", x / b; else print "nan" }')
  rw=$(awk -v x="$w" -v b="$base_wall" 'BEGIN { if (b > 0) printf "%.2f", x / b; else print "nan" }')
  ra=$(awk -v x="$a" -v b="$base_app" 'BEGIN { if (b > 0) printf "%.2f", x / b; else print "nan" }')
  rss=$(awk -v c="$c" '$1 == c { for (i = 6; i <= NF; i++) if ($i > m[i-6]) m[i-6] = $i; n = (NF - 5 > n ? NF - 5 : n) }
        END { for (i = 0; i < n; i++) printf "%s%.1f", (i ? " " : ""), m[i] / 1024 }' "$results")
  if [[ $c == baseline ]]; then
    result="(reference)"
  elif [[ $c == startup ]]; then
    result="(fixed cost, in the rows above)"
  else
    result=${check[$c]:-unchecked}
    worst_ratio=$(awk -v a="$worst_ratio" -v b="$rw" 'BEGIN { print (b > a ? b : a) }')
    worst_rss=$(echo "$rss" | tr ' ' '\n' | awk -v a="$worst_rss" '{ if ($1 > a) a = $1 } END { print a }')
  fi
  printf '%-28s %4d %9.3f %6s %8.3f %6s %8.3f %6s  %-20s %s\n' "${label[$c]}" "$n" "$w" "$rw" \
    "$a" "$ra" "$u" "$ru" "$rss" "$result"
done
echo
ok() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { r = (op == "le" ? v <= t : v < t); print (r ? "met" : "MISSED") }'; }
echo "targets : wall ratio <= $target_ratio (worst pmr: $worst_ratio, $(ok "$worst_ratio" le $target_ratio));" \
  "peak RSS per rank < $target_rss_mib MiB (worst pmr rank: $worst_rss MiB, $(ok "$worst_rss" lt $target_rss_mib))"
echo "note    : the baseline mmap()s its input, so the file's pages count in its RSS."
echo "launcher: ${mpiflags[*]:-(none)}; set PMR_BENCH_PML= to let Open MPI probe its other transports."
echo "raw     : $results (config rep wall app-wall cpu rss-KiB-per-rank...)"
exit $status
