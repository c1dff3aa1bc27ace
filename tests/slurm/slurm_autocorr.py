#!/usr/bin/env python3
"""Submit jobs/autocorr.sbatch to the test cluster and check what it did.

    slurm_autocorr.py

Two jobs at once: a series of 20,000 samples over 2 nodes x 1 rank x 2
threads (--demean --scale coeff), compared with numpy's np.correlate, its
attributes and the job record; and one asking for more lags than the series
has, which must fail (exit 1) with pmr-autocorr's one message and leave no
output. Environment and helpers as slurm_jobs.py (same cluster fixture).
"""
import os
import shutil
import sys
import time

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slurm_jobs as sj  # noqa: E402


def case_autocorr():
    rng = np.random.default_rng(11)
    x = np.sin(2 * np.pi * np.arange(20000) / 37.0) + rng.normal(0, 1, 20000) + 4.0
    os.makedirs("in")
    with h5py.File("in/sig.h5", "w") as f:
        f.create_dataset("run/x", data=x)
    tmpl = os.path.join(sj.JOBS, "autocorr.sbatch")
    ok = sj.sbatch(["-N2", "--ntasks-per-node=1", "--cpus-per-task=2", tmpl],
                   {"INPUT": "in/sig.h5:/run/x", "MAX_LAG": "300", "OUTPUT": "out/acf.h5",
                    "ARGS": "--demean --scale coeff"})
    bad = sj.sbatch(["-N1", "--ntasks-per-node=2", tmpl],
                    {"INPUT": "in/sig.h5:/run/x", "MAX_LAG": "20000", "OUTPUT": "out/bad.h5",
                     "JOBDIR": "out/badjob"})
    recs = sj.wait_jobs(ok, bad)

    rec = recs[ok][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    y = x - x.mean()
    n = y.size
    ref = np.correlate(y, y, "full")[n - 1:n + 300]
    ref = ref / ref[0]
    with h5py.File("out/acf.h5", "r") as f:
        g = f["autocorr"]
        r, lags = g["r"][()], g["lags"][()]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
    sj.check(r.shape == (301,), f"out/acf.h5: r has shape {r.shape}, expected (301,)")
    err = np.max(np.abs(r - ref))
    sj.check(err <= 1e-9,
             f"out/acf.h5: r differs from numpy's by {err:.3g}")
    sj.check(np.array_equal(lags, np.arange(301)), "out/acf.h5: lags are not 0..300")
    sj.check(attrs.get("nranks") == 2 and attrs.get("nthreads") == 2,
             f"nranks={attrs.get('nranks')} nthreads={attrs.get('nthreads')}, expected 2 x 2")
    sj.check(attrs.get("n") == n and attrs.get("scale") == "coeff" and attrs.get("demean") == 1
             and attrs.get("method") == "fft",
             f"attributes n={attrs.get('n')} scale={attrs.get('scale')} "
             f"demean={attrs.get('demean')} method={attrs.get('method')}")
    sj.expect_record(sj.job_dir("pmr-autocorr", ok) + "/job.txt", ok, 2, 2)

    rec = recs[bad][0]
    sj.expect_state(rec, "FAILED", "1:0")
    log = sj.read_text(rec["StdOut"])
    msgs = [line for line in log.splitlines() if line.startswith("pmr-autocorr: ")]
    want = "'in/sig.h5:/run/x' has 20000 samples: --max-lag 20000 is too large"
    sj.check(len(msgs) == 1 and want in msgs[0],
             f"expected one message naming the dataset ({want!r}) in {rec['StdOut']}:\n{log}")
    sj.check(not os.path.exists("out/bad.h5"), "a failed run left out/bad.h5")
    sj.check(sj.read_record("out/badjob/job.txt").get("exit_status") == "1",
             "the failed job's record does not say exit_status=1")


def main():
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), "autocorr")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        sj.ENV = sj.job_env()
        case_autocorr()
    except (sj.Failure, sj.subprocess.TimeoutExpired) as e:
        print(f"FAIL autocorr: {e}", file=sys.stderr)
        log = os.path.join(sj.CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                tail = f.readlines()[-25:]
            print(f"--- last lines of {log}:\n{''.join(tail)}", file=sys.stderr)
        return 1
    print(f"ok autocorr ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
