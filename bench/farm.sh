#!/usr/bin/env bash
# bench/farm.sh [BUILD_DIR]: pmr-farm against GNU parallel, in one run.
#
# 1. Per-task overhead: N `true` tasks (default 10,000) with the same number
#    of task slots, REPEAT times each, interleaved:
#       pmr-farm   mpirun -np R pmr-farm tasks.txt -o out.h5 -j J
#       parallel   parallel --joblog log -j R*J < tasks.txt
#       startup    pmr-farm with R*J tasks: launch, MPI_Init, HDF5, exit
#    printed as median wall time, tasks per second (whole command) and per
#    task (the startup's fixed cost taken out), and pmr-farm's ratio to GNU
#    parallel.
# 2. Load balance: M tasks `sleep d` with skewed durations d (a seeded
#    Pareto draw: many short tasks, a few long ones, in random order) on
#    R ranks x J2 slots. The makespan (first start to last end, from the
#    tasks' own records: RESULTS.h5 and parallel's joblog) is compared
#    with the ideal, total work / slots + longest task, where the work is
#    the tasks' measured durations in that run (so that the cost of
#    starting a process, which grows with the machine's load, does not
#    count as imbalance; the ideal from the nominal durations is printed
#    too), and with static splits computed from the same durations:
#    contiguous blocks, one per slot (a job array of R x J2 parts), and one
#    per rank run greedily on the rank's slots.
#
# A benchmark, not a test: it fails only when a run fails. Figures are
# printed; nothing is asserted about time.
#
# Environment (defaults in brackets):
#   REPEAT [3]                    runs of each overhead configuration
#   PMR_BENCH_DIR [/tmp/pmr-bench-farm]   task lists and run outputs
#   PMR_BENCH_TASKS [10000]       N
#   PMR_BENCH_RANKS [2]           R
#   PMR_BENCH_PER_RANK [1]        J: slots per rank for the overhead runs
#   PMR_BENCH_SKEW_TASKS [400]    M
#   PMR_BENCH_SKEW_PER_RANK [2]   J2: slots per rank for the balance runs
#   PMR_BENCH_SKEW_MEAN [0.1]     mean task duration, seconds
#   PMR_BENCH_PARTS ["overhead balance"]  which parts to run
#   PMR_BENCH_MPIRUN [mpirun]     launcher;  PMR_BENCH_PML [ob1] as in run.sh
#   PMR_FARM                      use this pmr-farm instead of BUILD_DIR's
#   PMR_PYTHON [/usr/bin/python3] a Python with h5py, to read the records
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${1:-${BUILD_DIR:-./build}}
repeat=${REPEAT:-3}
dir=${PMR_BENCH_DIR:-/tmp/pmr-bench-farm}
ntasks=${PMR_BENCH_TASKS:-10000}
ranks=${PMR_BENCH_RANKS:-2}
per_rank=${PMR_BENCH_PER_RANK:-1}
skew_n=${PMR_BENCH_SKEW_TASKS:-400}
skew_j=${PMR_BENCH_SKEW_PER_RANK:-2}
skew_mean=${PMR_BENCH_SKEW_MEAN:-0.1}
parts=${PMR_BENCH_PARTS:-overhead balance}
mpirun=${PMR_BENCH_MPIRUN:-mpirun}
pml=${PMR_BENCH_PML-ob1}
python=${PMR_PYTHON:-/usr/bin/python3}
ncpu=$(nproc 2>/dev/null || echo 1)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench/farm: $*"; exit 1; }

for v in repeat ntasks ranks per_rank skew_n skew_j; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
command -v "$mpirun" >/dev/null || die "no MPI launcher '$mpirun' in PATH"
command -v parallel >/dev/null ||
  die "GNU parallel is not installed: cluster/install-deps --bench (Debian package 'parallel')"
"$python" -c 'import h5py, numpy' 2>/dev/null || die "$python cannot import h5py and numpy"

if [[ -n ${PMR_FARM:-} ]]; then
  farm=$PMR_FARM
else
  if [[ ! -f $build/CMakeCache.txt ]]; then
    say "bench/farm: configuring $build (Release)"
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target pmr-farm -j "$ncpu" >/dev/null ||
    die "building pmr-farm in $build failed"
  farm=$(cd "$build" && pwd)/apps/farm/pmr-farm
fi
[[ -x $farm ]] || die "no pmr-farm at $farm"

mpiflags=()
if [[ $("$mpirun" --version 2>&1 || true) == *"Open MPI"* ]]; then
  mpiflags=(--bind-to none --oversubscribe)
  [[ -z $pml ]] || mpiflags+=(--mca pml "$pml")
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi
slots=$((ranks * per_rank))
skew_slots=$((ranks * skew_j))

rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
awk -v n="$ntasks" 'BEGIN { for (i = 0; i < n; i++) print "true" }' >true.txt
awk -v n="$slots" 'BEGIN { for (i = 0; i < n; i++) print "true" }' >startup.txt
# Three orders of the same durations: as drawn, rising with the task id
# (a sweep whose later parameters cost more), falling (the costly ones
# first: the hard case for large first batches).
"$python" - "$skew_n" "$skew_mean" <<'EOF'
import random, sys
n, mean = int(sys.argv[1]), float(sys.argv[2])
rng = random.Random(7)
alpha = 1.6                      # Pareto: a heavy tail, finite mean
scale = mean * (alpha - 1) / alpha
d = [min(scale * rng.paretovariate(alpha), 40 * mean) for _ in range(n)]
# Rising: each duration scaled by a trend from 0.25 to 1.75 (mean 1).
trend = [x * (0.25 + 1.5 * i / max(n - 1, 1)) for i, x in enumerate(d)]
for name, v in (("random", d), ("rising", trend), ("falling", trend[::-1])):
    with open(f"skew-{name}.txt", "w") as f:
        f.writelines(f"sleep {x:.4f}\n" for x in v)
EOF
orders=(random rising falling)

now() { date +%s.%N; }
: >results
status=0
run_cfg() { # name rep -> appends "name rep wall"
  local name=$1 rep=$2 t0 t1 rc=0
  case $name in
    pmr-farm) cmd=("$mpirun" -np "$ranks" "${mpiflags[@]}" "$farm" true.txt -o "farm.$rep.h5"
                   -j "$per_rank" --no-progress) ;;
    parallel) cmd=(parallel --will-cite --joblog "parallel.$rep.log" -j "$slots") ;;
    startup) cmd=("$mpirun" -np "$ranks" "${mpiflags[@]}" "$farm" startup.txt -o "startup.$rep.h5"
                  -j "$per_rank" --no-progress) ;;
  esac
  t0=$(now)
  if [[ $name == parallel ]]; then
    "${cmd[@]}" <true.txt >"$name.$rep.stdout" 2>"$name.$rep.stderr" || rc=$?
  else
    "${cmd[@]}" >"$name.$rep.stdout" 2>"$name.$rep.stderr" || rc=$?
  fi
  t1=$(now)
  if ((rc != 0)); then
    say "bench/farm: $name (run $rep) failed with status $rc: ${cmd[*]}"
    sed 's/^/  | /' "$name.$rep.stderr" >&2
    status=1
    return
  fi
  echo "$name $rep $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" >>results
}

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if [[ $parts == *overhead* ]]; then
  say "bench/farm: $repeat x {pmr-farm, parallel, startup} on $ntasks tasks"
  for ((rep = 1; rep <= repeat; rep++)); do
    for c in pmr-farm parallel startup; do
      run_cfg "$c" "$rep"
    done
  done
fi

# Load balance: one run each, same task list, same slots.
if [[ $parts == *balance* ]]; then
  for o in "${orders[@]}"; do
    say "bench/farm: $skew_n skewed tasks ($o) on $ranks x $skew_j slots"
    "$mpirun" -np "$ranks" "${mpiflags[@]}" "$farm" "skew-$o.txt" -o "skew-$o.h5" -j "$skew_j" \
      --no-progress >"skew-$o.stdout" 2>"skew-$o.stderr" ||
      { say "bench/farm: skewed pmr-farm run failed"; status=1; }
    parallel --will-cite --joblog "skew-$o.log" -j "$skew_slots" <"skew-$o.txt" >/dev/null 2>&1 ||
      { say "bench/farm: skewed parallel run failed"; status=1; }
  done
fi

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
w_farm=$(awk '$1 == "pmr-farm" { print $3 }' results | median)
w_par=$(awk '$1 == "parallel" { print $3 }' results | median)
w_start=$(awk '$1 == "startup" { print $3 }' results | median)

cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo 2>/dev/null || true)
echo
echo "pmr-farm benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(hostname)"
echo "machine : ${cpu_model:-unknown CPU}, $ncpu cores, load average $load_before before /" \
  "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') after"
echo "app     : $("$farm" --version 2>/dev/null | head -n1) ($farm); $(parallel --version | head -n1)"
echo
if [[ $parts == *overhead* ]]; then
echo "1. per-task overhead: $ntasks x 'true', $slots slots ($ranks ranks x $per_rank for pmr-farm," \
  "-j $slots for parallel); medians of $repeat runs"
awk -v n="$ntasks" -v s="$slots" -v f="$w_farm" -v p="$w_par" -v st="$w_start" 'BEGIN {
  printf "  %-34s %9s %11s %15s\n", "", "wall [s]", "tasks/s", "ms/task/slot"
  printf "  %-34s %9.3f %11.0f %15.3f\n", "pmr-farm (whole command)", f, n / f, 1000 * (f - st) * s / n
  printf "  %-34s %9.3f %11.0f %15.3f\n", "GNU parallel --joblog", p, n / p, 1000 * p * s / n
  printf "  %-34s %9.3f\n", "pmr-farm fixed cost (" s " tasks)", st
  printf "  pmr-farm / parallel: %.2fx the tasks per second (%.2fx without the fixed cost)\n", p / f, p / (f - st)
}'
echo
fi
[[ $parts == *balance* ]] || exit $status
"$python" - "$skew_j" "$ranks" "$skew_slots" "${orders[@]}" <<'EOF'
import heapq, sys
import h5py, numpy as np
j2, ranks, slots = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def greedy(ds, k):  # list scheduling in order on k slots
    free = [0.0] * k
    for x in ds:
        heapq.heappush(free, heapq.heappop(free) + x)
    return max(free)
def report(name, starts, secs):
    span = float(np.max(starts + secs) - np.min(starts))
    ideal = float(secs.sum()) / slots + float(secs.max())
    blocks = [float(b.sum()) for b in np.array_split(secs, slots)]
    per_rank = max(greedy(list(b), j2) for b in np.array_split(secs, ranks))
    print(f"  {name:22s} {span:9.3f} {ideal:9.3f} {span / ideal:8.3f} "
          f"{max(blocks):13.3f} {per_rank:15.3f}")
    return span, ideal
print(f"2. load balance: {len(open('skew-random.txt').readlines())} tasks 'sleep d', d skewed "
      f"(Pareto 1.6) on {ranks} ranks x {j2} slots.\n   Makespan = first start to last end; ideal = "
      f"work / slots + longest task; the static splits\n   (one contiguous block per slot, as a job "
      f"array would run them; one per rank, run greedily\n   on its slots) are computed from the "
      f"same run's task durations.")
print(f"  {'':22s} {'makespan':>9s} {'ideal':>9s} {'/ ideal':>8s} {'static/slot':>13s} "
      f"{'static/rank':>15s}")
worst = 0.0
for order in sys.argv[4:]:
    dn = np.array([float(l.split()[1]) for l in open(f"skew-{order}.txt")])
    print(f"  {order} order: mean {dn.mean():.3f} s, longest {dn.max():.3f} s, total {dn.sum():.1f} s "
          f"(nominal ideal {dn.sum() / slots + dn.max():.3f} s)")
    with h5py.File(f"skew-{order}.h5") as f:
        g = f["farm"]
        st, sec = g["start"][()], g["seconds"][()]
    rows = [l.split("\t") for l in open(f"skew-{order}.log").read().splitlines()[1:]]
    rows.sort(key=lambda r: int(r[0]))
    ps, pr = np.array([float(r[2]) for r in rows]), np.array([float(r[3]) for r in rows])
    span, ideal = report("  pmr-farm", st, sec)
    worst = max(worst, span / ideal)
    report("  GNU parallel", ps, pr)
print(f"  target pmr-farm makespan <= 1.10 x ideal: worst {worst:.3f}, {'met' if worst <= 1.10 else 'MISSED'}")
EOF
echo
echo "raw     : $dir/results (config rep wall), skew-*.h5 (pmr-farm), skew-*.log (parallel)"
exit $status
