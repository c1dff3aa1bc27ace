#!/usr/bin/env bash
# pmr's developer entry point.
#
#   ./dev.sh demo    install what is missing, build, run pmr-wordcount on
#                    2 ranks over data/sample, print the top words
#   ./dev.sh test    install what is missing (Slurm too), build, run the
#                    whole CTest suite
#   ./dev.sh bench [NAME...]   build and run the benchmarks (bench/README.md):
#                    wordcount histogram kmeans autocorr gen farm (default all)
#   ./dev.sh bench-farm   build and run pmr-farm against GNU parallel
#   ./dev.sh build   configure and build only
#
# Environment: BUILD_DIR (default ./build), JOBS (default: cores).
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
build=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

# Open MPI refuses to run as root without these; they belong to the runs
# this script starts, not to the library.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

configure_and_build() {
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$build" -j "$jobs"
}

case "${1:-}" in
  demo)
    "$root/cluster/install-deps"
    configure_and_build
    mkdir -p "$build/demo"
    out=$build/demo/wordcount.h5
    # --bind-to none: Open MPI would pin each rank to one core, and the
    # rank's threads with it.
    mpirun -np 2 --oversubscribe --bind-to none \
      "$build/apps/wordcount/pmr-wordcount" "$root"/data/sample/*.txt \
      -o "$out" --top 10 --stats
    echo
    echo "Result: $out"
    h5ls -r "$out"
    ;;
  test)
    "$root/cluster/install-deps" --slurm --docs
    configure_and_build
    ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 600
    ;;
  bench)
    # Every benchmark (bench/README.md), or the ones named after "bench":
    # ./dev.sh bench histogram kmeans
    "$root/cluster/install-deps" --bench
    configure_and_build
    shift
    names=("$@")
    [ ${#names[@]} -gt 0 ] || names=(wordcount histogram kmeans autocorr gen farm)
    for name in "${names[@]}"; do
      case $name in
        wordcount) script=run.sh ;;
        histogram | kmeans | autocorr | gen | farm) script=$name.sh ;;
        *) echo "dev.sh bench: no benchmark '$name'" >&2; exit 2 ;;
      esac
      echo "== bench: $name"
      BUILD_DIR=$build "$root/bench/$script"
    done
    ;;
  bench-farm)
    "$root/cluster/install-deps" --bench
    configure_and_build
    BUILD_DIR=$build "$root/bench/farm.sh"
    ;;
  build)
    "$root/cluster/install-deps"
    configure_and_build
    ;;
  *)
    sed -n '2,13s/^# \{0,1\}//p' "$0"
    exit 2
    ;;
esac
