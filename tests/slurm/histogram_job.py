#!/usr/bin/env python3
"""Submit jobs/histogram.sbatch to the test cluster and check what it did.

    histogram_job.py

Environment and helpers as slurm_jobs.py (the same fixture cluster). Three
HDF5 files are written with h5py; one job bins their /x datasets (INPUT a
glob plus DATASET) on 2 nodes x 2 ranks x 2 threads with BINS and RANGE, and
its result must equal numpy.histogram over all their values, with the
attributes and the job record of 4 ranks x 2 threads; a second job, with
LOG=1 and the range from the data, must equal numpy.histogram over
numpy.geomspace edges; a third names a dataset that does not exist and must
fail with exit 1, pmr-histogram's one-line message in its output file, and
no result.
"""
import math
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slurm_jobs as sj  # noqa: E402
from slurm_jobs import Failure, check  # noqa: E402

TEMPLATE = os.path.join(sj.JOBS, "histogram.sbatch")


def make_inputs():
    rng = np.random.default_rng(8)
    os.makedirs("in", exist_ok=True)
    for i in range(3):
        x = rng.lognormal(1.0, 1.0, 4000 + 1000 * i)
        x[::101] = np.nan
        x[7] = -np.inf
        with h5py.File(f"in/part-{i}.h5", "w") as f:
            f["x"] = x
            f["other"] = np.zeros(3)
    return [f"in/part-{i}.h5" for i in range(3)]


def values(paths):
    parts = []
    for p in paths:
        with h5py.File(p, "r") as f:
            parts.append(f["x"][()])
    return np.concatenate(parts)


def read(path):
    check(os.path.exists(path), f"result {path} does not exist")
    with h5py.File(path, "r") as f:
        check("histogram" in f, f"{path}: no group /histogram")
        g = f["histogram"]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic)
                     else v) for k, v in g.attrs.items()}
        return g["edges"][()], g["counts"][()], attrs


def expect_hist(path, x, counts, edges, ranks, threads, what):
    e, c, a = read(path)
    check(np.array_equal(e, edges), f"{what}: edges {e.tolist()} != {edges.tolist()}")
    check(np.array_equal(c, counts), f"{what}: counts {c.tolist()} != {counts.tolist()}")
    fin = x[np.isfinite(x)]
    want = {"count": int(counts.sum()), "nan": int(np.isnan(x).sum()),
            "underflow": int((x < edges[0]).sum()), "overflow": int((x > edges[-1]).sum()),
            "finite": int(fin.size), "nranks": ranks, "nthreads": threads, "app": "histogram"}
    for k, v in want.items():
        check(a.get(k) == v, f"{what}: attribute {k}={a.get(k)!r}, expected {v!r}")
    check(abs(a["mean"] - math.fsum(fin) / fin.size) <= 1e-12 * abs(a["mean"]),
          f"{what}: mean {a['mean']!r}, numpy {fin.mean()!r}")
    check(abs(a["std"] - fin.std()) <= 1e-12 * fin.std(), f"{what}: std {a['std']!r}, numpy {fin.std()!r}")
    return a


def case_histogram():
    paths = make_inputs()
    x = values(paths)
    jobs = {
        "range": sj.sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", TEMPLATE],
                           {"INPUT": "in/part-*.h5", "DATASET": "/x", "BINS": "17",
                            "RANGE": "0.5:30", "OUTPUT": "out/range.h5"}),
        "log": sj.sbatch(["-N1", "--ntasks-per-node=3", TEMPLATE],
                         {"INPUT": " ".join(p + ":/x" for p in paths), "BINS": "9", "LOG": "1",
                          "OUTPUT": "out/log.h5"}),
        "bad": sj.sbatch(["-N1", "--ntasks-per-node=2", TEMPLATE],
                         {"INPUT": "in/part-*.h5", "DATASET": "nope", "OUTPUT": "out/bad.h5"}),
    }
    recs = sj.wait_jobs(*jobs.values())
    jid = jobs["range"]
    rec = recs[jid][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    check(rec.get("NodeList") == "n[1-2]", f"job ran on {rec.get('NodeList')}, expected n[1-2]")
    counts, edges = np.histogram(x[~np.isnan(x)], bins=17, range=(0.5, 30.0))
    a = expect_hist("out/range.h5", x, counts, edges, 4, 2, "histogram.sbatch RANGE")
    inputs = [bytes(s).decode() for s in a.get("inputs", [])]
    check(inputs == [p + ":/x" for p in paths], f"inputs attribute {inputs}")
    r = sj.expect_record(sj.job_dir("pmr-histogram", jid) + "/job.txt", jid, 4, 2)
    check("--range 0.5:30" in r["command"] and "--bins 17" in r["command"],
          f"record command {r['command']!r}")

    jid = jobs["log"]
    sj.expect_state(recs[jid][0], "COMPLETED", "0:0")
    pos = x[np.isfinite(x) & (x > 0)]
    lo, hi = float(pos.min()), float(pos.max())
    y = np.linspace(math.log10(lo), math.log10(hi), 10)
    edges = np.array([10.0 ** float(v) for v in y])
    edges[0], edges[-1] = lo, hi
    counts, _ = np.histogram(x[~np.isnan(x)], bins=edges)
    expect_hist("out/log.h5", x, counts, edges, 3, 1, "histogram.sbatch LOG=1")
    sj.expect_record(sj.job_dir("pmr-histogram", jid) + "/job.txt", jid, 3, 1)

    jid = jobs["bad"]
    rec = recs[jid][0]
    sj.expect_state(rec, "FAILED", "1:0")
    out = sj.read_text(rec.get("StdOut", ""))
    msg = [ln for ln in out.splitlines() if ln.startswith("pmr-histogram: ")]
    check(len(msg) == 1 and "no dataset '/nope'" in msg[0],
          f"failed job's output has no one-line pmr-histogram message:\n{out}")
    check(not os.path.exists("out/bad.h5"), "the failed job left out/bad.h5")
    sj.expect_record(sj.job_dir("pmr-histogram", jid) + "/job.txt", jid, 2, 1, exit_status="1")
    left = sorted(f for f in os.listdir("out") if f not in ("range.h5", "log.h5"))
    check(not left, f"stray files in out/: {left}")


def main():
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), "histogram")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        sj.ENV = sj.job_env()
        case_histogram()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL histogram: {e}", file=sys.stderr)
        log = os.path.join(sj.CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f"--- last lines of {log}:\n{''.join(f.readlines()[-25:])}", file=sys.stderr)
        return 1
    print(f"ok histogram ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
