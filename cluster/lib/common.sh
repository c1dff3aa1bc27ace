# shellcheck shell=bash
# Shared by cluster/up and cluster/down: where the cluster lives and how to
# tell its processes from anyone else's. Sourced, never run.
#
# Everything the cluster owns is under one state directory:
#   etc/     slurm.conf, mpi.conf, plugstack.conf, cluster.env (what `up` built)
#   munge/   its own key and socket (the machine's munged, if any, is untouched)
#   run/     pid files and namespace ids
#   log/     every daemon's log, jobcomp.log (one line per finished job)
#   state/   slurmctld's StateSaveLocation; spool/<node>/ for each slurmd
#   nodes/<node>/pmix   the node's private PMIx client directory
#   env.sh   sourced by users and tests

PMR_CLUSTER_DIR=${PMR_CLUSTER_DIR:-/tmp/pmr-cluster}
# Absolute, so that a relative path given by the user survives a cd.
case $PMR_CLUSTER_DIR in /*) ;; *) PMR_CLUSTER_DIR=$PWD/$PMR_CLUSTER_DIR ;; esac
PMR_CLUSTER_DIR=${PMR_CLUSTER_DIR%/}

cl_etc=$PMR_CLUSTER_DIR/etc
cl_run=$PMR_CLUSTER_DIR/run
cl_log=$PMR_CLUSTER_DIR/log
cl_munge_socket=$PMR_CLUSTER_DIR/munge/munge.socket
cl_conf=$cl_etc/slurm.conf

cl_say() { printf 'cluster: %s\n' "$*" >&2; }
cl_die() { printf 'cluster: error: %s\n' "$*" >&2; exit 1; }

# cl_pid_alive PIDFILE: true when the file names a live process.
cl_pid_alive() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# cl_wait SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds.
cl_wait() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      cl_say "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# cl_owned_pids: every process this cluster started. Daemons are found by
# their pid files; everything a node runs (slurmd, slurmstepd, job scripts,
# MPI ranks, orphans of a killed job) shares that node's private mount
# namespace, whose id `up` recorded, so nothing of anyone else's matches.
cl_owned_pids() {
  local f ns p self_ns init_ns
  local -A want=()
  # Never match the namespace we run in (nor init's): that would be everyone.
  self_ns=$(readlink /proc/self/ns/mnt)
  init_ns=$(readlink /proc/1/ns/mnt 2>/dev/null || true)
  for f in "$cl_run"/*.pid; do
    [[ -e $f ]] || continue
    if cl_pid_alive "$f"; then echo "$(<"$f")"; fi
  done
  for f in "$cl_run"/*.mntns; do
    [[ -s $f ]] || continue
    ns=$(<"$f")
    [[ $ns == mnt:* && $ns != "$self_ns" && $ns != "$init_ns" ]] && want[$ns]=1
  done
  ((${#want[@]})) || return 0
  for p in /proc/[0-9]*; do
    ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
    [[ -n ${want[$ns]:-} && ${p#/proc/} != "$BASHPID" ]] && echo "${p#/proc/}"
  done
  return 0
}
