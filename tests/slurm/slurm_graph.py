#!/usr/bin/env python3
"""Submit jobs/pagerank.sbatch and jobs/invindex.sbatch to the test cluster
and check what they did.

    slurm_graph.py pagerank|invindex

Uses slurm_jobs.py's environment and helpers (PMR_SOURCE_DIR,
PMR_CLUSTER_DIR, PMR_TEST_PATH, PMR_TEST_WORK). Inputs are made here; the
goldens come from Python (tests/apps/pagerank_ref.py: networkx's PageRank
in numpy; an index of bytes.split() per line). For each template: one job
on 2 nodes x 2 ranks x 2 threads through srun whose result must match, and
one job with a bad input that must fail with the app's one-line message and
leave no result.
"""
import os
import random
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
import pagerank_ref as ref  # noqa: E402
import slurm_jobs as sj  # noqa: E402
from slurm_jobs import Failure, check  # noqa: E402


def expect_failed(rec, app, name, out_path):
    sj.expect_state(rec, "FAILED", "1:0")
    out = sj.read_text(rec["StdOut"])
    lines = [ln for ln in out.splitlines() if ln.startswith(app + ":")
             and not ln.startswith(app + ": warning:")]
    check(len(lines) == 1 and name in lines[0],
          f"want one '{app}: ...' line naming {name} in the job's output:\n{out}")
    check(not os.path.exists(out_path), f"the failed job left {out_path}")


def case_pagerank():
    rng = random.Random(5)
    edges = [(rng.randrange(60), rng.randrange(60)) for _ in range(400)]
    edges += [(1000, 1000), (2 ** 40, 7), (7, 2 ** 40)]
    os.makedirs("in", exist_ok=True)
    with open("in/g.txt", "w") as f:
        f.write("# test graph\n" + "".join("%d %d\n" % e for e in edges))
    with open("in/bad.txt", "w") as f:
        f.write("1 2\n3 three\n")
    tmpl = os.path.join(sj.JOBS, "pagerank.sbatch")
    good = sj.sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", tmpl],
                     {"INPUT": "in/g.txt", "OUTPUT": "out/pr.h5", "ARGS": "--tol 1e-10"})
    bad = sj.sbatch(["-N1", "--ntasks-per-node=2", tmpl],
                    {"INPUT": "in/bad.txt", "OUTPUT": "out/bad.h5"})
    recs = sj.wait_jobs(good, bad)
    rec = recs[good][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    v, x, it, conv, ndang, nedges = ref.pagerank(edges, 0.85, 1e-10, 100)
    with h5py.File("out/pr.h5", "r") as f:
        g = f["pagerank"]
        gv, gr = g["vertices"][...], g["rank"][...]
        a = dict(g.attrs)
    o = np.argsort(gv)
    check(np.array_equal(gv[o], v), "the vertices differ from the golden's")
    d = float(np.abs(gr[o] - x).max())
    check(d <= 1e-8, f"ranks differ from the golden by {d:.3g}")
    check(a.get("iterations") == it and a.get("converged") == 1 and a.get("dangling") == ndang,
          f"attributes {a.get('iterations')}/{a.get('converged')}/{a.get('dangling')}, "
          f"want {it}/1/{ndang}")
    check(a.get("nranks") == 4 and a.get("nthreads") == 2,
          f"nranks={a.get('nranks')} nthreads={a.get('nthreads')}, expected 4 x 2")
    out = sj.read_text(rec["StdOut"])
    check("edge-iterations" in out, f"no --stats line in the job's output:\n{out}")
    sj.expect_record(f"results/pmr-pagerank-{good}/job.txt", good, 4, 2)
    expect_failed(recs[bad][0], "pmr-pagerank", "'in/bad.txt' line 2", "out/bad.h5")
    sj.expect_record(f"results/pmr-pagerank-{bad}/job.txt", bad, 2, 2, exit_status="1")


def case_invindex():
    rng = random.Random(9)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"caf\xc3\xa9"]
    os.makedirs("in", exist_ok=True)
    paths = []
    for i in range(3):
        p = "in/t%d.txt" % i
        with open(p, "wb") as f:
            f.write(b"\n".join(b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 6)))
                               for _ in range(200)) + b"\r\n")
        paths.append(p)
    idx = {}
    for fi, p in enumerate(paths):
        with open(p, "rb") as f:
            for ln, line in enumerate(f.read().split(b"\n"), 1):
                for w in line.split():
                    idx.setdefault(w, []).append((fi, ln))
    tmpl = os.path.join(sj.JOBS, "invindex.sbatch")
    good = sj.sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", tmpl],
                     {"INPUT": " ".join(paths), "OUTPUT": "out/ix.h5"})
    bad = sj.sbatch(["-N1", "--ntasks-per-node=2", tmpl],
                    {"INPUT": "in/t0.txt in/nope.txt", "OUTPUT": "out/bad.h5"})
    recs = sj.wait_jobs(good, bad)
    rec = recs[good][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    with h5py.File("out/ix.h5", "r") as f:
        g = f["invindex"]
        keys, ko = g["keys"][...].tobytes(), g["key_offsets"][...]
        vals, go = g["values"][...], g["group_offsets"][...]
        a = dict(g.attrs)
    got = {keys[ko[i]:ko[i + 1]]: [tuple(r) for r in vals[go[i]:go[i + 1]].tolist()]
           for i in range(len(ko) - 1)}
    check(got == idx, "the index differs from the golden's")
    check(a.get("nranks") == 4 and a.get("nthreads") == 2,
          f"nranks={a.get('nranks')} nthreads={a.get('nthreads')}, expected 4 x 2")
    sj.expect_record(f"results/pmr-invindex-{good}/job.txt", good, 4, 2)
    expect_failed(recs[bad][0], "pmr-invindex", "nope.txt", "out/bad.h5")
    sj.expect_record(f"results/pmr-invindex-{bad}/job.txt", bad, 2, 2, exit_status="1")


CASES = {"pagerank": case_pagerank, "invindex": case_invindex}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in CASES:
        print("usage: slurm_graph.py pagerank|invindex", file=sys.stderr)
        return 2
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        sj.ENV = sj.job_env()
        CASES[name]()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        log = os.path.join(sj.CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f"--- last lines of {log}:\n{''.join(f.readlines()[-25:])}", file=sys.stderr)
        return 1
    print(f"ok {name} ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
