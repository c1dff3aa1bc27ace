#!/usr/bin/env python3
"""Submit jobs/sort.sbatch to the test cluster and check what it did.

    slurm_sort.py

Uses slurm_jobs.py's environment and helpers (same variables: PMR_SOURCE_DIR,
PMR_CLUSTER_DIR, PMR_TEST_PATH, PMR_TEST_WORK). One job on 2 nodes x 2
ranks x 2 threads generates 20,000 records and sorts them: the output must
equal Python's sorted() of the generated records (read back from the job
directory), and the job's output must hold pmr-sort --check's summary with
the count, no unsorted position, and the checksum computed here (zlib.crc32
summed), and end with the last line naming the output. One job whose input
is not a whole number of records must fail with the app's one-line message
naming it and leave no output; one without INPUT must fail at once.
"""
import os
import shutil
import subprocess
import sys
import time
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import slurm_jobs as sj  # noqa: E402
from slurm_jobs import Failure, check  # noqa: E402

REC = 100


def case_sort():
    tmpl = os.path.join(sj.JOBS, "sort.sbatch")
    os.makedirs("in", exist_ok=True)
    with open("in/odd.dat", "wb") as f:
        f.write(b"r" * (5 * REC + 3))
    good = sj.sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", tmpl],
                     {"INPUT": "generate", "RECORDS": "20000", "SEED": "9",
                      "OUTPUT": "out/sorted.dat", "ARGS": "-m 16M"})
    bad = sj.sbatch(["-N1", "--ntasks-per-node=2", tmpl],
                    {"INPUT": "in/odd.dat", "OUTPUT": "out/bad.dat"})
    noinput = sj.sbatch(["-N1", "--ntasks=1", tmpl], {"RECORDS": "100"})
    recs = sj.wait_jobs(good, bad, noinput)

    rec = recs[good][0]
    sj.expect_state(rec, "COMPLETED", "0:0")
    d = sj.job_dir("pmr-sort", good)
    inp = f"{d}/records.dat"
    check(os.path.exists(inp), f"sort.sbatch generated no {inp}")
    check(os.path.exists("out/sorted.dat"), "sort.sbatch wrote no out/sorted.dat")
    with open(inp, "rb") as f:
        data = f.read()
    with open("out/sorted.dat", "rb") as f:
        got = f.read()
    recs_in = [data[i:i + REC] for i in range(0, len(data), REC)]
    check(len(recs_in) == 20000, f"{inp} holds {len(data)} bytes, want 20000 records")
    check(got == b"".join(sorted(recs_in)), "out/sorted.dat is not sorted() of the generated records")
    out = sj.read_text(rec["StdOut"])
    csum = "%016x" % (sum(zlib.crc32(r) for r in recs_in) % 2 ** 64)
    for line in ("records     20000", "unsorted    0", "checksum    " + csum):
        check(line in out, f"no line {line!r} in the job's output:\n{out}")
    check("peak RSS" in out or "phase" in out, f"no --stats table in the job's output:\n{out}")
    sj.expect_record(f"{d}/job.txt", good, 4, 2)
    sj.expect_last_line(rec, "COMPLETED", "out/sorted.dat", d)

    rec = recs[bad][0]
    sj.expect_state(rec, "FAILED", "1:0")
    out = sj.read_text(rec["StdOut"])
    lines = [ln for ln in out.splitlines() if ln.startswith("pmr-sort:")
             and not ln.startswith("pmr-sort: warning:")]
    check(len(lines) == 1 and "odd.dat" in lines[0],
          f"want one 'pmr-sort: ...' line naming odd.dat in the job's output:\n{out}")
    check(not os.path.exists("out/bad.dat"), "the failed job left out/bad.dat")
    sj.expect_record(sj.job_dir("pmr-sort", bad) + "/job.txt", bad, 2, 1, exit_status="1")
    sj.expect_last_line(rec, "FAILED")

    # Without INPUT the job stops at once, saying what to set.
    rec = recs[noinput][0]
    sj.expect_state(rec, "FAILED", "1:0")
    out = sj.read_text(rec["StdOut"])
    check("INPUT is not set" in out, f"no 'INPUT is not set' in the job's output:\n{out}")


def main():
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), "sort")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        sj.ENV = sj.job_env()
        case_sort()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL sort: {e}", file=sys.stderr)
        log = os.path.join(sj.CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f"--- last lines of {log}:\n{''.join(f.readlines()[-25:])}", file=sys.stderr)
        return 1
    print(f"ok sort ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
