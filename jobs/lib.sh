# shellcheck shell=bash
# Shared by the job templates in jobs/: sourced, never submitted.
#
# A template finds this file with its one-line preamble (jobs/README.md,
# "Writing a template"), right after `set -euo pipefail`:
#
#   source "$(if [[ -n ${PMR_JOBS_DIR:-} ]]; then printf %s "$PMR_JOBS_DIR"; else s=$(squeue -h -j "${SLURM_JOB_ID:-0}" -o %o 2>/dev/null | sed -n 1p) || s=; cd "${SLURM_SUBMIT_DIR:-.}" && cd "$(dirname -- "${s:-$0}")" && pwd; fi)/lib.sh"
#
# sbatch runs a spooled copy of the script, so $0 says nothing about where
# the template lives; Slurm records the path it was submitted with (squeue
# %o; the first line: an array's id lists all its tasks), relative to the submit directory (SLURM_SUBMIT_DIR, also under
# `sbatch -D`). Outside Slurm ($0) and with PMR_JOBS_DIR set, those are used.
# An installed template has PMR_JOBS_DIR's default set to its own directory.
#
# Sourcing this file: reads site.env, moves to the submit directory (every
# relative path a user gives is taken from there), and arranges for the
# job's last line of output to say how it ended and where its results are.
# Then, for the templates:
#   pmr_int NAME DEFAULT MIN MAX  NAME must be digits only, MIN..MAX (unset or
#                       empty: DEFAULT; DEFAULT "" makes it required)
#   pmr_flag NAME       NAME must be 0 or 1 (default 0)
#   pmr_size NAME DEFAULT   NAME must be a size: digits and a K/M/G/T suffix
#   pmr_word NAME DEFAULT WORD...  NAME must be one of the WORDs
#   pmr_inputs SAMPLE   INPUT (required; whitespace-separated paths or globs)
#                       into the array PMR_INPUTS; INPUT=sample takes SAMPLE,
#                       paths under the bundled data/ (e.g. 'sample/*.txt')
#   pmr_outdir          the job's result directory into OUTDIR (created):
#                       OUTDIR, or $PMR_RESULTS/<job name>-<job id>-<date>;
#                       the job's log is linked into it as job.log
#   pmr_threads         OMP_NUM_THREADS and SRUN_CPUS_PER_TASK from the allocation
#   pmr_need CMD...     stop with a clear message when a program is not on PATH
#   pmr_record FILE CMD...  write the job's record (key=value lines); how the
#                       job ended is appended when it exits. The version is
#                       that of $PMR_APP (default: the first pmr-* word of
#                       the command)
#   pmr_result PATH...  what the last line names as the job's results
#   pmr_die MSG         message on stderr (the job's output file), exit 1
#   pmr_requeue         requeue this job (scontrol requeue) and end this run

PMR_JOBS_DIR=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# The bundled sample data: data/ beside jobs/ in the source tree and in an
# install (share/pmr/data).
PMR_DATA_DIR=$(cd "$PMR_JOBS_DIR/.." && pwd)/data
PMR_JOB_NAME=${SLURM_JOB_NAME:-${0##*/}}
PMR_JOB_ID=${SLURM_JOB_ID:-local-$$}
PMR_JOB_END=''
PMR_START_DIR=$PWD
PMR_RESULT=()
PMR_RECORD=''
OUTDIR=${OUTDIR:-${JOBDIR:-}}

pmr_die() {
  printf '%s: %s\n' "$PMR_JOB_NAME" "$*" >&2
  exit 1
}

# The last line of the job's output, whatever ended it.
_pmr_last_line() {
  local rc=$1 where=''
  if [[ -n $PMR_RECORD ]]; then
    {
      echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      echo "exit_status=$rc"
    } >>"$PMR_RECORD" 2>/dev/null || true
  fi
  if [[ -n ${OUTDIR:-} && -d ${OUTDIR:-} ]]; then
    where="record ${PMR_RECORD:+${PMR_RECORD##*/} }and log in $OUTDIR/"
  fi
  # Relative paths are the submit directory's: say so where the log is elsewhere (-D).
  [[ -z $where || $PMR_START_DIR == "$PWD" ]] || where+=" (paths from $PWD)"
  if [[ $PMR_JOB_END == requeued ]]; then
    echo "pmr: job $PMR_JOB_ID REQUEUED (exit $rc)${where:+: $where}"
  elif ((rc == 0)); then
    echo "pmr: job $PMR_JOB_ID COMPLETED: ${PMR_RESULT[*]:+output ${PMR_RESULT[*]}; }${where:-no result directory}"
  else
    echo "pmr: job $PMR_JOB_ID FAILED (exit $rc): ${where:-before it started; the reason is above}"
  fi
}
_pmr_end() {
  trap - EXIT
  [[ $PMR_JOB_END == said ]] || _pmr_last_line "$1"
  exit "$1"
}

# pmr_requeue: put this job back in the queue (same id, SLURM_RESTART_COUNT
# one more) and end this run. The last line is written first: Slurm may
# kill the script as soon as the requeue is accepted.
pmr_requeue() {
  PMR_JOB_END=requeued
  _pmr_last_line 0
  PMR_JOB_END=said
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
}
trap '_pmr_end $?' EXIT

# shellcheck source=site.env
source "$PMR_JOBS_DIR/site.env"
PMR_START_DIR=$PWD
if [[ -n ${SLURM_SUBMIT_DIR:-} ]]; then
  cd "$SLURM_SUBMIT_DIR" || pmr_die "cannot enter the submit directory '$SLURM_SUBMIT_DIR'"
fi

pmr_need() {
  local c
  for c; do
    command -v "$c" >/dev/null 2>&1 ||
      pmr_die "$c not found on PATH: set PMR_PREFIX in $PMR_JOBS_DIR/site.env, load pmr's module, or export PATH when submitting"
  done
}

# pmr_int NAME DEFAULT MIN MAX
pmr_int() {
  local name=$1 def=$2 min=$3 max=$4 v
  v=${!name:-$def}
  [[ -n $v ]] || pmr_die "set $name, a whole number from $min to $max (sbatch --export=ALL,$name=...)"
  # Digits only, and few enough of them for bash's arithmetic.
  [[ $v =~ ^[0-9]{1,18}$ ]] && ((10#$v >= min && 10#$v <= max)) ||
    pmr_die "$name must be a whole number from $min to $max, not '$v'"
  printf -v "$name" '%d' "$((10#$v))"
}

pmr_flag() { pmr_int "$1" "${2:-0}" 0 1; }

# pmr_size NAME DEFAULT: digits with an optional K, M, G or T suffix.
pmr_size() {
  local name=$1 v=${!1:-$2}
  [[ $v =~ ^[0-9]{1,15}[KMGT]?$ ]] ||
    pmr_die "$name must be a size (digits and an optional K, M, G or T, e.g. 64M), not '$v'"
  printf -v "$name" '%s' "$v"
}

# pmr_word NAME DEFAULT WORD...
pmr_word() {
  local name=$1 v=${!1:-$2} w
  shift 2
  for w; do
    if [[ $v == "$w" ]]; then
      printf -v "$name" '%s' "$v"
      return 0
    fi
  done
  pmr_die "$name must be one of: $*; not '$v'"
}

# pmr_inputs SAMPLE: INPUT (required) into PMR_INPUTS.
pmr_inputs() {
  local sample=${1:-}
  local -a words matches
  local w
  PMR_INPUTS=()
  [[ -n ${INPUT:-} ]] ||
    pmr_die "INPUT is not set: name the input, e.g. sbatch --export=ALL,INPUT='data/sample/*.txt' ... (INPUT=sample: the bundled data/$sample)"
  if [[ $INPUT == sample && -n $sample ]]; then
    # Globs only in the file name; the data directory may hold spaces.
    # shellcheck disable=SC2206
    matches=("$PMR_DATA_DIR"/$sample)
    PMR_INPUTS=("${matches[@]}")
    echo "INPUT=sample: ${PMR_INPUTS[*]}"
    return 0
  fi
  read -ra words <<<"$INPUT"
  for w in "${words[@]}"; do
    # Unquoted on purpose: glob expansion. A pattern that matches nothing is
    # kept as written, so that the app reports it by name and the job fails.
    # shellcheck disable=SC2206
    matches=($w)
    PMR_INPUTS+=("${matches[@]}")
  done
}

# The job's result directory: OUTDIR, else $PMR_RESULTS/<job name>-<job id>-<date>
# (the date of submission, to the second: job ids repeat when a cluster is
# rebuilt).
pmr_outdir() {
  local id=${SLURM_ARRAY_JOB_ID:-$PMR_JOB_ID} stamp base d log
  if [[ -z ${OUTDIR:-} ]]; then
    base=$PMR_RESULTS/$PMR_JOB_NAME-$id
    # A requeued run (whose submission time Slurm renews) takes its first
    # run's directory; the tasks of an array share one, by the array's
    # submission time.
    if ((${SLURM_RESTART_COUNT:-0} > 0)); then
      for d in "$base"-*/; do
        if [[ -d $d ]]; then OUTDIR=${d%/}; fi
      done
    fi
    if [[ -z ${OUTDIR:-} ]]; then
      stamp=$(scontrol show job -o "$id" 2>/dev/null |
              sed -n '1s/.* SubmitTime=\([0-9T:-]*\) .*/\1/p' | tr -d ':-')
      OUTDIR=$base-${stamp:-$(date +%Y%m%dT%H%M%S)}
    fi
  fi
  mkdir -p "$OUTDIR" || pmr_die "cannot create the result directory '$OUTDIR'"
  # The job's log (stdout and stderr of the script and its ranks), linked.
  if [[ -n ${SLURM_JOB_ID:-} ]]; then
    # An array task by its own name: the array's id names all its tasks.
    local self=$SLURM_JOB_ID
    [[ -z ${SLURM_ARRAY_JOB_ID:-} ]] || self=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
    log=$(scontrol show job -o "$self" 2>/dev/null | sed -n '1s/.* StdOut=\(.*\) Power=.*/\1/p')
    if [[ -n $log ]]; then
      [[ $log == /* ]] || log=$PWD/$log
      ln -sfn "$log" "$OUTDIR/${PMR_LOG_NAME:-job.log}" 2>/dev/null || true
    fi
  fi
}

pmr_threads() {
  # One OpenMP thread per allocated CPU; srun (22.05 and later) must be told
  # the CPUs per task again.
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  export SRUN_CPUS_PER_TASK=$OMP_NUM_THREADS
}

pmr_result() { PMR_RESULT=("$@"); }

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
  # --version is answered before MPI starts; a retry on a busy node rather
  # than record no version.
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
    echo "outdir=${OUTDIR:-}"
    echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$PMR_RECORD"
}
