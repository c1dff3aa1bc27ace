#!/usr/bin/env python3
"""Submit jobs/kmeans.sbatch to the test cluster and check what it did.

    slurm_kmeans.py

Uses slurm_jobs.py's environment and helpers (same variables: PMR_SOURCE_DIR,
PMR_CLUSTER_DIR, PMR_TEST_PATH, PMR_TEST_WORK). Points are made here with
numpy; the golden is tests/apps/kmeans_ref.py's exact Lloyd loop from its
own k-means++ draws, which the result must equal bit for bit. One job on
2 nodes x 2 ranks x 2 threads through srun, with --assign and a seed; one
job whose input is missing must fail with the app's one-line message and
leave no result.
"""
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "apps"))
import kmeans_ref as ref  # noqa: E402
import slurm_jobs as sj  # noqa: E402
from slurm_jobs import Failure, check  # noqa: E402


def case_kmeans():
    rng = np.random.default_rng(17)
    centres = rng.uniform(-20, 20, (5, 3))
    X = centres[rng.integers(0, 5, 4000)] + rng.normal(0, 2.0, (4000, 3))
    os.makedirs("in", exist_ok=True)
    with h5py.File("in/pts.h5", "w") as f:
        f["points"] = X
    rows = ref.kmeanspp_init(X, 5, 3)
    gold = ref.lloyd(X, X[rows], 300, ref.tolerance(X, 1e-4), exact=True)

    tmpl = os.path.join(sj.JOBS, "kmeans.sbatch")
    good = sj.sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", tmpl],
                     {"INPUT": "in/pts.h5:/points", "K": "5", "OUTPUT": "out/km.h5",
                      "ARGS": "--seed 3 --assign"})
    bad = sj.sbatch(["-N1", "--ntasks-per-node=2", tmpl],
                    {"INPUT": "in/nope.h5:/points", "K": "5", "OUTPUT": "out/bad.h5"})
    recs = sj.wait_jobs(good, bad)

    rec = recs[good][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    check(os.path.exists("out/km.h5"), "kmeans.sbatch wrote no out/km.h5")
    with h5py.File("out/km.h5", "r") as f:
        check("kmeans" in f, f"out/km.h5 has no group /kmeans: {list(f)}")
        g = f["kmeans"]
        got = {n: g[n][()] for n in g}
        attrs = {n: g.attrs[n] for n in g.attrs}
    check(got["initial_centroids"].tobytes() == X[rows].tobytes(),
          "initial centroids differ from the k-means++ reference's")
    for n in ("centroids", "counts", "inertia", "assignments"):
        check(np.asarray(got[n]).tobytes() == np.asarray(gold[n], dtype=got[n].dtype).tobytes(),
              f"{n} differs from the exact numpy reference: {got[n][:5]} vs {gold[n][:5]}")
    check(attrs.get("iterations") == gold["iterations"] and
          attrs.get("converged") == gold["converged"],
          f"iterations/converged {attrs.get('iterations')}/{attrs.get('converged')}, "
          f"want {gold['iterations']}/{gold['converged']}")
    check(attrs.get("nranks") == 4 and attrs.get("nthreads") == 2,
          f"nranks={attrs.get('nranks')} nthreads={attrs.get('nthreads')}, expected 4 x 2")
    out = sj.read_text(rec["StdOut"])
    check("point-iterations/s" in out, f"no --stats line in the job's output:\n{out}")
    sj.expect_record(sj.job_dir("pmr-kmeans", good) + "/job.txt", good, 4, 2)

    rec = recs[bad][0]
    sj.expect_state(rec, "FAILED", "1:0")
    out = sj.read_text(rec["StdOut"])
    lines = [ln for ln in out.splitlines() if ln.startswith("pmr-kmeans:")
             and not ln.startswith("pmr-kmeans: warning:")]
    check(len(lines) == 1 and "nope.h5" in lines[0],
          f"want one 'pmr-kmeans: ...' line naming nope.h5 in the job's output:\n{out}")
    check(not os.path.exists("out/bad.h5"), "the failed job left out/bad.h5")
    sj.expect_record(sj.job_dir("pmr-kmeans", bad) + "/job.txt", bad, 2, 2, exit_status="1")


def main():
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), "kmeans")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        sj.ENV = sj.job_env()
        case_kmeans()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL kmeans: {e}", file=sys.stderr)
        log = os.path.join(sj.CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f"--- last lines of {log}:\n{''.join(f.readlines()[-25:])}", file=sys.stderr)
        return 1
    print(f"ok kmeans ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
