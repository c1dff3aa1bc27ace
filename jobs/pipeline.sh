#!/usr/bin/env bash
# Submit generate -> compute -> summarise as three dependent jobs and print
# their ids. Each job starts only when the one before it succeeded
# (afterok); if one fails, the jobs after it are cancelled, not left pending.
#
#   jobs/pipeline.sh [options] [-- more sbatch options for every job]
#
#   -d DIR     everything goes here (default $PMR_RESULTS/pipeline-<date>-<time>):
#              DIR/input/ (generated text), DIR/wordcount.h5, DIR/summary.txt,
#              DIR/compute/ (the count's job.txt), and the jobs' output files
#              DIR/<job name>-<job id>.out
#   -f FILES   input files to generate (default 4); the generate job has as many
#              ranks, and each file is written by all of them (pmr-gen text)
#   -s SIZE    bytes per file, suffix K/M/G (default 64M)
#   -S SEED    seed (default 1)
#   -N NODES   nodes for the compute job (default 2)
#   -n RANKS   MPI ranks per node for the compute job (default 2)
#   -c CPUS    OpenMP threads per rank for the compute job (default 1)
#
# Prints one "step=jobid" line per job, for scripts:
#   eval "$(jobs/pipeline.sh -d out/run1)"; squeue -j "$generate,$compute,$summarise"
# Reads jobs/site.env first, so its partition and account apply.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=site.env
source "$here/site.env"

dir='' files=4 size=64M seed=1 nodes=2 rpn=2 cpt=1
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while getopts 'd:f:s:S:N:n:c:h' opt; do
  case $opt in
    d) dir=$OPTARG ;;
    f) files=$OPTARG ;;
    s) size=$OPTARG ;;
    S) seed=$OPTARG ;;
    N) nodes=$OPTARG ;;
    n) rpn=$OPTARG ;;
    c) cpt=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
extra=("$@")
for v in "$files" "$nodes" "$rpn" "$cpt"; do
  [[ $v =~ ^[1-9][0-9]{0,5}$ ]] || { echo "pipeline.sh: '$v' is not a count from 1 to 999999" >&2; exit 2; }
done
[[ $size =~ ^[0-9]{1,15}[KMGT]?$ ]] || { echo "pipeline.sh: -s '$size' is not a size (e.g. 64M)" >&2; exit 2; }
[[ $seed =~ ^[0-9]{1,18}$ ]] || { echo "pipeline.sh: -S '$seed' is not a whole number" >&2; exit 2; }
dir=${dir:-$PMR_RESULTS/pipeline-$(date +%Y%m%d-%H%M%S)}
# Slurm does not create the directories of output files.
mkdir -p "$dir"

submitted=()
# submit VAR [NAME=VALUE...] -- SBATCH-ARGS...: submit, store the job id in VAR.
# NAME=VALUE reach the job through its environment (sbatch exports it all),
# so values may hold commas and spaces.
submit() {
  local var=$1 id
  local -a vars=()
  shift
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  if ! id=$(env "${vars[@]}" sbatch --parsable --output="$dir/%x-%j.out" "${extra[@]}" "$@"); then
    echo "pipeline.sh: sbatch failed; cancelling ${submitted[*]:-nothing}" >&2
    ((${#submitted[@]} == 0)) || scancel "${submitted[@]}"
    exit 1
  fi
  id=${id%%;*}
  submitted+=("$id")
  printf -v "$var" '%s' "$id"
}

submit generate OUTDIR="$dir/input" FILES="$files" SIZE="$size" SEED="$seed" -- \
  --ntasks="$files" "$here/generate.sbatch"
submit compute INPUT="$dir/input/*.txt" OUTPUT="$dir/wordcount.h5" OUTDIR="$dir/compute" -- \
  --dependency="afterok:$generate" --kill-on-invalid-dep=yes \
  --nodes="$nodes" --ntasks-per-node="$rpn" --cpus-per-task="$cpt" \
  "$here/wordcount.sbatch"
submit summarise INPUT="$dir/wordcount.h5" OUTDIR="$dir" OUTPUT=none SUMMARY="$dir/summary.txt" -- \
  --dependency="afterok:$compute" --kill-on-invalid-dep=yes \
  --job-name=pmr-summarise "$here/merge.sbatch"

echo "generate=$generate"
echo "compute=$compute"
echo "summarise=$summarise"
echo "pipeline.sh: results in $dir (summary: $dir/summary.txt)" >&2
