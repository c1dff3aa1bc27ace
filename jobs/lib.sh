# shellcheck shell=bash
# Shared by the job templates in jobs/: sourced, never submitted.
#
# Sources site.env (the per-site settings), then offers:
#   pmr_inputs          expand INPUT (whitespace-separated paths or globs) into PMR_INPUTS
#   pmr_need CMD...     stop with a clear message when a program is not on PATH
#   pmr_record FILE CMD...
#                       write the job's record (key=value lines) and append how
#                       it ended when the job script exits; the version is that
#                       of $PMR_APP (default: the first pmr-* word of the command, else pmr-wordcount)
#   pmr_die MSG         message on stderr (the job's output file), exit 1
#
# Templates find this file through the path they were submitted with, since
# sbatch runs a spooled copy of them; PMR_JOBS_DIR overrides that.

PMR_JOBS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=site.env
source "$PMR_JOBS_DIR/site.env"

pmr_die() {
  printf '%s: %s\n' "${SLURM_JOB_NAME:-${0##*/}}" "$*" >&2
  exit 1
}

pmr_need() {
  local c
  for c; do
    command -v "$c" >/dev/null 2>&1 ||
      pmr_die "$c not found on PATH: set PMR_PREFIX in $PMR_JOBS_DIR/site.env, load pmr's module, or export PATH when submitting"
  done
}

pmr_inputs() {
  [[ -n ${INPUT:-} ]] ||
    pmr_die "INPUT is empty: name the input files, e.g. sbatch --export=ALL,INPUT='data/*.txt' ..."
  local -a words matches
  local w
  PMR_INPUTS=()
  read -ra words <<<"$INPUT"
  for w in "${words[@]}"; do
    # Unquoted on purpose: glob expansion. A pattern that matches nothing is
    # kept as written, so that the app reports it by name and the job fails.
    # shellcheck disable=SC2206
    matches=($w)
    PMR_INPUTS+=("${matches[@]}")
  done
}

pmr_record() {
  PMR_RECORD=$1
  shift
  local version='' cmdline try app=pmr-wordcount a
  printf -v cmdline '%q ' "$@"
  # The version of the pmr app the command runs (pmr-wordcount for commands
  # that run none).
  for a; do
    if [[ $a == pmr-* && $a != *[[:space:]]* ]]; then
      app=$a
      break
    fi
  done
  # --version starts MPI (a singleton, outside srun): allow it a retry on a
  # busy node rather than record no version.
  for try in 1 2 3; do
    version=$("${PMR_APP:-$app}" --version 2>/dev/null | head -n1) || true
    [[ -z $version ]] || break
    sleep "$try"
  done
  mkdir -p "$(dirname "$PMR_RECORD")"
  local ranks=${SLURM_NTASKS:-1} threads=${OMP_NUM_THREADS:-1} nnodes=${SLURM_JOB_NUM_NODES:-1}
  {
    echo "job_id=${SLURM_JOB_ID:-none}"
    if [[ -n ${SLURM_ARRAY_JOB_ID:-} ]]; then
      echo "array_task=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    fi
    echo "job_name=${SLURM_JOB_NAME:-}"
    echo "cluster=${SLURM_CLUSTER_NAME:-}"
    echo "partition=${SLURM_JOB_PARTITION:-}"
    echo "nodes=${SLURM_JOB_NODELIST:-$(hostname)}"
    echo "nnodes=$nnodes"
    echo "ranks=$ranks"
    echo "threads=$threads"
    echo "layout=$ranks ranks x $threads threads on $nnodes nodes (tasks per node: ${SLURM_TASKS_PER_NODE:-$ranks})"
    echo "restarts=${SLURM_RESTART_COUNT:-0}"
    echo "version=${version:-unknown}"
    echo "command=${cmdline% }"
    echo "submit_dir=${SLURM_SUBMIT_DIR:-$PWD}"
    echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$PMR_RECORD"
  trap '_pmr_record_end $?' EXIT
}

_pmr_record_end() {
  {
    echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "exit_status=$1"
  } >>"$PMR_RECORD"
  exit "$1"
}
