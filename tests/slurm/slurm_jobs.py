#!/usr/bin/env python3
"""Submit the templates in jobs/ to the test cluster and check what they did.

    slurm_jobs.py CASE     CASE: up-again wordcount hybrid array pipeline gen requeue failure farm
                                 templates examples

Environment (set by tests/slurm/CMakeLists.txt):
  PMR_SOURCE_DIR   the source tree (jobs/, cluster/)
  PMR_CLUSTER_DIR  the cluster the fixture brought up (its env.sh)
  PMR_TEST_PATH    directories to put first on PATH (where pmr-wordcount,
                   pmr-merge, pmr-farm and pmr-gen are)
  PMR_TEST_WORK    scratch directory; CASE runs in PMR_TEST_WORK/CASE

Goldens come from Python (collections.Counter over bytes.split(), file by
file), never from pmr; HDF5 results are read with h5py. Jobs are waited for
by polling scontrol. On failure, the job's output file and the tail of the
slurmctld log are printed.
"""

import collections
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

SRC = os.environ.get("PMR_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
JOBS = os.path.join(SRC, "jobs")
CLUSTER_DIR = os.environ.get("PMR_CLUSTER_DIR", "/tmp/pmr-cluster")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"}
JOB_WAIT = 120  # seconds any one job (or chain) may take here before the case fails


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# --- environment ------------------------------------------------------------------

def job_env():
    """This process's environment, cleaned of anything that would steer the
    templates or sbatch (an outer Slurm job, a user's INPUT), plus env.sh."""
    env_sh = os.path.join(CLUSTER_DIR, "env.sh")
    check(os.path.exists(env_sh), f"{env_sh} is missing: the cluster is not up (cluster/up failed?)")
    out = subprocess.run(["bash", "-c", f". {shlex.quote(env_sh)} && env -0"],
                         check=True, capture_output=True).stdout
    env = dict(kv.split("=", 1) for kv in out.decode().split("\0") if "=" in kv)
    steer = ("INPUT", "OUTPUT", "OUTDIR", "ARGS", "TOP", "JOBDIR", "SUMMARY", "LAUNCHER",
             "STEP_FILES", "MAX_RESTARTS", "SIZE", "SEED", "FILES", "KIND", "PMR_RESULTS", "PMR_PREFIX",
             "TASKS", "TEMPLATE", "PARAMS", "PER_RANK", "GRACE", "RESUME", "PMR_APP",
             "PMR_JOBS_DIR", "OMP_NUM_THREADS", "SLURM_MPI_TYPE", "DATASET", "BINS", "RANGE",
             "LOG", "MAX_LAG", "K", "INIT")
    for k in list(env):
        if k in steer or (k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_")) and k != "SLURM_CONF"):
            del env[k]
    extra = [p for p in os.environ.get("PMR_TEST_PATH", "").split(os.pathsep) if p]
    env["PATH"] = os.pathsep.join(extra + [env.get("PATH", "/usr/bin:/bin")])
    return env


ENV = None


def run(cmd, env_extra=None, timeout=60, check_rc=True):
    env = dict(ENV)
    env.update(env_extra or {})
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


def sbatch(args, env_extra=None):
    p = run(["sbatch", "--parsable"] + args, env_extra)
    jid = p.stdout.strip().split(";")[0]
    check(jid.isdigit(), f"sbatch printed no job id: {p.stdout!r} {p.stderr!r}")
    return jid


# --- jobs ----------------------------------------------------------------------------

_kv = re.compile(r"(\S+?)=(.*?)(?=\s+[A-Za-z][\w:/.]*=|\s*$)")


def job_records(jid):
    """scontrol's records for a job (several for an array), as dicts."""
    p = run(["scontrol", "show", "job", "-o", jid], check_rc=False)
    if p.returncode != 0:
        raise Failure(f"scontrol show job {jid}: {p.stderr.strip()}")
    return [dict(_kv.findall(line)) for line in p.stdout.splitlines() if line.strip()]


def job(jid):
    recs = job_records(jid)
    check(len(recs) == 1, f"job {jid}: expected one record, got {len(recs)}")
    return recs[0]


def wait_for(pred, what, timeout=JOB_WAIT, interval=0.25):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_jobs(*jids, timeout=JOB_WAIT):
    """Polls until every job (every task of an array) has ended; returns their records."""
    def ended():
        recs = {j: job_records(j) for j in jids}
        if all(r and all(x.get("JobState") in TERMINAL for x in r) for r in recs.values()):
            return recs
        return None
    try:
        return wait_for(ended, "jobs " + ",".join(jids), timeout)
    except Failure:
        for j in jids:
            for r in job_records(j):
                print(f"job {r.get('JobId')}: {r.get('JobState')} reason={r.get('Reason')}", file=sys.stderr)
        raise


def expect_state(rec, state, exit_code):
    jid = rec.get("JobId")
    if rec.get("ArrayTaskId"):
        jid = f"{rec.get('ArrayJobId')}_{rec.get('ArrayTaskId')}"
    check(rec.get("JobState") == state and rec.get("ExitCode") == exit_code,
          f"job {jid}: {rec.get('JobState')} exit {rec.get('ExitCode')} "
          f"(reason {rec.get('Reason')}), expected {state} exit {exit_code}\n"
          f"--- {rec.get('StdOut')}:\n{read_text(rec.get('StdOut', ''))}")


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"({e})"


# --- inputs and goldens -----------------------------------------------------------------

VOCAB = [b"the", b"of", b"and", b"a", b"to", b"in", b"The", b"THE", b"is", b"map", b"reduce",
         b"caf\xc3\xa9", b"na\xc3\xafve", b"\xe2\x82\xac", b"\xff\xfe", b"bad\x80utf8", b"nul\x00byte",
         b"\x00", b"x", b"it's", b"--", b"(paren)", b"end.", b"a\x01b", b"\x7f", b"mpi", b"rank",
         b"hdf5", b"slurm", b"node"]
SEPS = [b" ", b" ", b" ", b"  ", b"\t", b"\n", b"\n", b"\r\n", b"\v", b"\f", b" \t\n"]


def make_corpus(directory, nfiles, seed, words_per_file=4000):
    """Writes nfiles text files with a skewed vocabulary and every kind of
    whitespace; file 1 is empty, odd files lack a final newline. Returns their paths."""
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(nfiles):
        n = 0 if i == 1 else words_per_file + rng.randrange(words_per_file)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.8:
                w = VOCAB[min(int(rng.expovariate(0.25)), len(VOCAB) - 1)]
            else:  # a long tail of rarer words
                w = b"w%d" % rng.randrange(2000)
            parts.append(w)
            parts.append(rng.choice(SEPS))
        data = b"".join(parts)
        if i % 2 == 1:
            data = data.rstrip()
        path = os.path.join(directory, f"text-{i:02d}.txt")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    return paths


def golden(paths):
    c = collections.Counter()
    for p in paths:
        with open(p, "rb") as f:
            c.update(f.read().split())
    return c


def read_result(path, group="wordcount"):
    check(os.path.exists(path), f"result {path} does not exist")
    with h5py.File(path, "r") as f:
        check(group in f, f"{path}: no group /{group}")
        g = f[group]
        keys = g["keys"][()].tobytes()
        off = g["key_offsets"][()].astype(np.int64).tolist()
        vals = g["values"][()].tolist()
        check(g["keys"].dtype == np.uint8 and g["key_offsets"].dtype == np.uint64
              and g["values"].dtype == np.int64,
              f"{path}: dtypes {g['keys'].dtype}/{g['key_offsets'].dtype}/{g['values'].dtype}")
        check(len(off) == len(vals) + 1 and off[0] == 0 and off[-1] == len(keys),
              f"{path}: inconsistent key_offsets")
        counts = {}
        for i, v in enumerate(vals):
            w = keys[off[i]:off[i + 1]]
            check(w not in counts, f"{path}: word {w!r} appears twice")
            counts[w] = v
        attrs = {}
        for k, v in g.attrs.items():
            if isinstance(v, (bytes, np.bytes_)):
                v = bytes(v).decode("utf-8", "replace")
            elif isinstance(v, np.ndarray) and v.dtype.kind == "S":
                v = [bytes(x).decode("utf-8", "replace") for x in v]
            elif isinstance(v, np.generic):
                v = v.item()
            attrs[k] = v
    return counts, attrs


def expect_counts(path, gold, what):
    got, attrs = read_result(path)
    if got != dict(gold):
        missing = [w for w in gold if w not in got]
        extra = [w for w in got if w not in gold]
        wrong = [(w, got[w], gold[w]) for w in gold if w in got and got[w] != gold[w]]
        raise Failure(f"{what}: {path} differs from the golden: {len(missing)} words missing "
                      f"{missing[:5]}, {len(extra)} extra {extra[:5]}, {len(wrong)} wrong "
                      f"(word, got, want) {wrong[:5]}")
    return attrs


def top_lines(gold, n):
    best = sorted(gold.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [w + b"\t" + str(c).encode() for w, c in best]


def expect_top(out_path, gold, n):
    with open(out_path, "rb") as f:
        lines = f.read().split(b"\n")
    want = top_lines(gold, n)
    try:
        i = lines.index(want[0])
    except ValueError:
        raise Failure(f"{out_path}: top line {want[0]!r} not found:\n{read_text(out_path)}") from None
    check(lines[i:i + len(want)] == want,
          f"{out_path}: top {n} is {lines[i:i + len(want)]!r}, expected {want!r}")


def read_record(path):
    check(os.path.exists(path), f"job record {path} is missing")
    rec = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            rec[k] = v
    return rec


_version = None


def pmr_version():
    """The version the apps under test report ("0.2.0"), asked once."""
    global _version
    if _version is None:
        out = (run(["pmr-wordcount", "--version"]).stdout.splitlines() or [""])[0].split()
        check(out, "pmr-wordcount --version printed nothing")
        _version = out[-1]
    return _version


def job_dir(name, jid, base="results"):
    """The one result directory a template made by default, base/<name>-<jid>-<date>."""
    found = [d for d in os.listdir(base) if re.fullmatch(rf"{re.escape(name)}-{jid}-\d{{8}}T\d{{6}}", d)] \
        if os.path.isdir(base) else []
    check(len(found) == 1, f"expected one result directory {base}/{name}-{jid}-<date>, found {found}")
    return os.path.join(base, found[0])


def last_line(path):
    lines = read_text(path).rstrip("\n").split("\n")
    return lines[-1] if lines else ""


def expect_last_line(rec, state, *names):
    """The job log's last line: how the job ended and where its results are."""
    line = last_line(rec["StdOut"])
    want = f"pmr: job {rec['JobId']} {state}"
    check(line.startswith(want) and all(n in line for n in names),
          f"last line of {rec['StdOut']} is {line!r}, expected {want!r} naming {names}")
    return line


def expect_record(path, jid, ranks, threads, exit_status="0"):
    rec = read_record(path)
    for k in ("job_id", "nodes", "ranks", "threads", "layout", "version", "command",
              "started", "finished", "exit_status"):
        check(k in rec, f"{path}: no {k}= line:\n{read_text(path)}")
    check(rec["job_id"] == jid, f"{path}: job_id={rec['job_id']}, expected {jid}")
    check(rec["ranks"] == str(ranks) and rec["threads"] == str(threads),
          f"{path}: {rec['ranks']} ranks x {rec['threads']} threads, expected {ranks} x {threads}")
    check(rec["version"].endswith(f"(pmr) {pmr_version()}"),
          f"{path}: version={rec['version']!r}, expected the apps' version {pmr_version()}")
    check(rec["exit_status"] == exit_status, f"{path}: exit_status={rec['exit_status']}, expected {exit_status}")
    return rec


# --- cases -------------------------------------------------------------------------------

def case_up_again():
    """cluster/up on a healthy cluster with the same settings changes nothing."""
    pid_file = os.path.join(CLUSTER_DIR, "run", "slurmctld.pid")
    with open(pid_file) as f:
        before = f.read().strip()
    t0 = time.monotonic()
    p = run([os.path.join(SRC, "cluster", "up")], timeout=60)
    check(p.stdout.strip() == os.path.join(CLUSTER_DIR, "env.sh"),
          f"cluster/up printed {p.stdout!r}, expected the env.sh path")
    check("already up" in p.stderr, f"cluster/up did not notice the running cluster: {p.stderr}")
    with open(pid_file) as f:
        check(f.read().strip() == before, "cluster/up restarted slurmctld")
    print(f"second cluster/up took {time.monotonic() - t0:.1f}s")
    p = run(["sinfo", "-h", "-N", "-o", "%N %t"])
    check(len(p.stdout.split("\n")) >= 2, f"sinfo: {p.stdout}")


def case_wordcount():
    paths = make_corpus("in", 6, seed=1)
    gold = golden(paths)
    jid = sbatch(["-N2", "--ntasks-per-node=2", os.path.join(JOBS, "wordcount.sbatch")],
                 {"INPUT": "in/*.txt", "OUTPUT": "out/wc.h5", "TOP": "7"})
    rec = wait_jobs(jid)[jid][0]
    expect_state(rec, "COMPLETED", "0:0")
    check(rec.get("NodeList") == "n[1-2]", f"job ran on {rec.get('NodeList')}, expected n[1-2]")
    attrs = expect_counts("out/wc.h5", gold, "wordcount.sbatch")
    check(attrs.get("nranks") == 4 and attrs.get("nthreads") == 1,
          f"nranks={attrs.get('nranks')} nthreads={attrs.get('nthreads')}, expected 4 x 1")
    check(attrs.get("words") == sum(gold.values()), f"words attribute {attrs.get('words')}")
    check(len(attrs.get("inputs", [])) == 6, f"inputs attribute {attrs.get('inputs')}")
    expect_top(rec["StdOut"], gold, 7)
    d = job_dir("pmr-wordcount", jid)
    r = expect_record(f"{d}/job.txt", jid, 4, 1)
    check(r["nodes"] == "n[1-2]", f"record nodes={r['nodes']}")
    check(os.path.realpath(f"{d}/job.log") == os.path.realpath(rec["StdOut"]),
          f"{d}/job.log does not lead to the job's log {rec['StdOut']}")
    expect_last_line(rec, "COMPLETED", "out/wc.h5", d)
    check(not [f for f in os.listdir("out") if f != "wc.h5"], f"stray files in out/: {os.listdir('out')}")


def case_hybrid():
    paths = make_corpus("in", 4, seed=2)
    gold = golden(paths)
    tmpl = os.path.join(JOBS, "hybrid.sbatch")
    # 2 nodes x 2 ranks x 2 threads through srun; 2 x 1 x 2 through mpirun.
    a = sbatch(["-N2", "--ntasks-per-node=2", "--cpus-per-task=2", tmpl],
               {"INPUT": "in/*.txt", "OUTPUT": "out/srun.h5", "LAUNCHER": "srun"})
    b = sbatch(["-N2", "--ntasks-per-node=1", "--cpus-per-task=2", tmpl],
               {"INPUT": "in/*.txt", "OUTPUT": "out/mpirun.h5", "LAUNCHER": "mpirun"})
    recs = wait_jobs(a, b)
    for jid, out, ranks in ((a, "out/srun.h5", 4), (b, "out/mpirun.h5", 2)):
        rec = recs[jid][0]
        expect_state(rec, "COMPLETED", "0:0")
        attrs = expect_counts(out, gold, f"hybrid.sbatch ({out})")
        check(attrs.get("nranks") == ranks and attrs.get("nthreads") == 2,
              f"{out}: nranks={attrs.get('nranks')} nthreads={attrs.get('nthreads')}, expected {ranks} x 2")
        expect_record(f"{job_dir('pmr-hybrid', jid)}/job.txt", jid, ranks, 2)
        expect_last_line(rec, "COMPLETED", out)


def case_array():
    paths = make_corpus("in", 5, seed=3)
    arr = sbatch(["--array=0-4", os.path.join(JOBS, "array.sbatch")],
                 {"INPUT": "in/*.txt", "OUTDIR": "out/arr"})
    merge = sbatch([f"--dependency=afterok:{arr}", "--kill-on-invalid-dep=yes",
                    os.path.join(JOBS, "merge.sbatch")], {"OUTDIR": "out/arr", "TOP": "5"})
    recs = wait_jobs(arr, merge)
    tasks = recs[arr]
    check(len(tasks) == 5, f"array {arr} has {len(tasks)} task records, expected 5")
    for t in tasks:
        expect_state(t, "COMPLETED", "0:0")
    task_job = {t.get("ArrayTaskId"): t["JobId"] for t in tasks}
    for i, p in enumerate(sorted(paths)):
        attrs = expect_counts(f"out/arr/part-{i:04d}.h5", golden([p]), f"array task {i}")
        check(attrs.get("nranks") == 2, f"task {i}: nranks={attrs.get('nranks')}, expected 2")
        expect_record(f"out/arr/part-{i:04d}.job", task_job.get(str(i)), 2, 1)
    expect_state(recs[merge][0], "COMPLETED", "0:0")
    gold = golden(paths)
    attrs = expect_counts("out/arr/merged.h5", gold, "merge.sbatch")
    parts = [f"out/arr/part-{i:04d}.h5" for i in range(5)]
    check(attrs.get("inputs") == parts, f"merged inputs attribute {attrs.get('inputs')}, expected {parts}")
    check(attrs.get("app") == "wordcount" and attrs.get("combiner") == "sum_i64"
          and attrs.get("nranks") == 2,
          f"merged app={attrs.get('app')} combiner={attrs.get('combiner')} nranks={attrs.get('nranks')}, "
          f"expected wordcount, sum_i64, 2 (the merge job's ranks)")
    expect_record(f"out/arr/pmr-merge-{merge}.job", merge, 2, 1)
    # pmr-merge --summary: parts, pairs read (distinct words per part, summed),
    # distinct words, total words.
    summary = read_text("out/arr/summary.txt")
    pairs = sum(len(golden([p])) for p in paths)
    check(re.search(r"^results\s+5$", summary, re.M) and
          re.search(rf"^pairs\s+{pairs}$", summary, re.M) and
          re.search(rf"^total\s+{sum(gold.values())}$", summary, re.M) and
          re.search(rf"^distinct\s+{len(gold)}$", summary, re.M),
          f"summary.txt disagrees with the golden (5 results, {pairs} pairs, {len(gold)} distinct, "
          f"{sum(gold.values())} in total):\n{summary}")
    with open("out/arr/summary.txt", "rb") as f:
        check(b"\n".join(top_lines(gold, 5)) in f.read(), f"summary.txt top 5 wrong:\n{summary}")
    # The merge ran only after every task had ended.
    ends = max(t["EndTime"] for t in tasks)
    check(recs[merge][0]["StartTime"] >= ends,
          f"merge started {recs[merge][0]['StartTime']}, before the last task ended ({ends})")


def case_pipeline():
    p = run([os.path.join(JOBS, "pipeline.sh"), "-d", "out/pipe", "-f", "3", "-s", "300K",
             "-N", "2", "-n", "2", "-c", "1"])
    ids = dict(line.split("=", 1) for line in p.stdout.split() if "=" in line)
    check(set(ids) == {"generate", "compute", "summarise"} and all(v.isdigit() for v in ids.values()),
          f"pipeline.sh printed {p.stdout!r}")
    recs = wait_jobs(ids["generate"], ids["compute"], ids["summarise"])
    for step in ("generate", "compute", "summarise"):
        expect_state(recs[ids[step]][0], "COMPLETED", "0:0")
    inputs = sorted(os.path.join("out/pipe/input", f) for f in os.listdir("out/pipe/input")
                    if f.endswith(".txt"))
    check(len(inputs) == 3 and all(os.path.getsize(f) == 300 * 1024 for f in inputs),
          f"generated inputs: {[(f, os.path.getsize(f)) for f in inputs]}")
    # pmr-gen text on 3 ranks: the bytes of gen_reference.py (seed 1 for file 0).
    ref = gen_reference()
    with open(inputs[0], "rb") as f:
        check(f.read() == ref.text(1, 300 * 1024), f"{inputs[0]} differs from gen_reference.text(1, 300K)")
    gold = golden(inputs)
    attrs = expect_counts("out/pipe/wordcount.h5", gold, "pipeline compute step")
    check(attrs.get("nranks") == 4, f"compute step nranks={attrs.get('nranks')}")
    summary = read_text("out/pipe/summary.txt")
    check(re.search(rf"^total\s+{sum(gold.values())}$", summary, re.M) and
          re.search(rf"^distinct\s+{len(gold)}$", summary, re.M),
          f"pipeline summary.txt disagrees with the golden:\n{summary}")
    expect_record("out/pipe/compute/job.txt", ids["compute"], 4, 1)
    g, c, s = (recs[ids[k]][0] for k in ("generate", "compute", "summarise"))
    check(g["EndTime"] <= c["StartTime"] and c["EndTime"] <= s["StartTime"],
          f"steps overlap: generate ended {g['EndTime']}, compute ran {c['StartTime']}..{c['EndTime']}, "
          f"summarise started {s['StartTime']}")


def gen_reference():
    """tests/apps/gen_reference.py: pmr-gen's generators in Python."""
    sys.path.insert(0, os.path.join(SRC, "tests", "apps"))
    import gen_reference as ref
    return ref


def h5_attrs(obj):
    out = {}
    for k, v in obj.attrs.items():
        if isinstance(v, (bytes, np.bytes_)):
            v = bytes(v).decode("utf-8", "replace")
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def case_gen():
    """generate.sbatch with pmr-gen's HDF5 kinds: points on 2 nodes x 2 ranks,
    an AR(1) signal on 3 ranks x 2 threads. Every dataset bit for bit against
    gen_reference.py, the attributes, the job records."""
    ref = gen_reference()
    tmpl = os.path.join(JOBS, "generate.sbatch")
    a = sbatch(["-N2", "--ntasks-per-node=2", tmpl],
               {"KIND": "points", "SEED": "3", "OUTPUT": "out/blobs.h5",
                "ARGS": "-n 5000 -d 3 -k 4 --spread 0.5"})
    b = sbatch(["-N1", "--ntasks=3", "--cpus-per-task=2", tmpl],
               {"KIND": "signal", "SEED": "5", "OUTDIR": "out/sig", "ARGS": "-n 150000 --phi 0.6"})
    recs = wait_jobs(a, b)
    for jid in (a, b):
        expect_state(recs[jid][0], "COMPLETED", "0:0")
    check(recs[a][0].get("NodeList") == "n[1-2]", f"points ran on {recs[a][0].get('NodeList')}")
    pts, cen, lab = ref.points(3, 5000, 3, 4, 0.5, 10.0)
    sig = ref.ar1(5, 150000, 0.6, 1.0)
    for path, want, ranks, threads in (("out/blobs.h5", {"points": pts, "centres": cen, "labels": lab}, 4, 1),
                                       ("out/sig/signal.h5", {"signal": sig}, 3, 2)):
        check(os.path.exists(path), f"{path} was not written")
        with h5py.File(path, "r") as f:
            check(sorted(f) == sorted(want), f"{path} holds {sorted(f)}, want {sorted(want)}")
            for name, w in want.items():
                got = f[name][()]
                check(got.dtype == w.dtype and got.shape == w.shape and got.tobytes() == w.tobytes(),
                      f"{path}:/{name} ({got.dtype} {got.shape}) differs from gen_reference")
            main = "points" if "points" in want else "signal"
            attrs = h5_attrs(f[main])
        check(attrs.get("nranks") == ranks and attrs.get("nthreads") == threads and attrs.get("app") == "gen",
              f"{path}: app={attrs.get('app')} nranks={attrs.get('nranks')} nthreads={attrs.get('nthreads')}, "
              f"want gen, {ranks} x {threads}")
    r = expect_record(f"{job_dir('pmr-generate', a)}/pmr-generate-{a}.job", a, 4, 1)
    check("pmr-gen points" in r["command"] and r["version"].startswith("pmr-gen "),
          f"record: command={r['command']!r} version={r['version']!r}")
    expect_record(f"out/sig/pmr-generate-{b}.job", b, 3, 2)
    check(not [f for f in os.listdir("out") if f.startswith(".")], f"temporary files left: {os.listdir('out')}")


def case_requeue():
    paths = make_corpus("in", 8, seed=4)
    gold = golden(paths)
    jid = sbatch(["-N2", "--ntasks-per-node=2", os.path.join(JOBS, "requeue.sbatch")],
                 {"INPUT": "in/*.txt", "OUTPUT": "out/long.h5"})
    # The default result directory, results/pmr-long-<id>-<date>: the
    # requeued run must find and go on in the same one.
    def steps_done():
        try:
            with open(os.path.join(job_dir("pmr-long", jid), "done")) as f:
                return len(f.read().split())
        except (OSError, Failure):
            return 0
    # Signal the batch script while it is between the first and the last step.
    wait_for(lambda: steps_done() >= 1 or job(jid).get("JobState") in TERMINAL, "the first step")
    check(job(jid).get("JobState") == "RUNNING",
          f"job {jid} is {job(jid).get('JobState')} before it could be signalled")
    before = steps_done()
    run(["scancel", "--signal=USR1", "--batch", jid])
    check(before < 8, "every step finished before USR1 arrived: nothing left to requeue")

    # Requeued jobs wait ~2 minutes before they may start again: release it now.
    rec = wait_for(lambda: (lambda r: r if r.get("Restarts") == "1" and r.get("JobState") == "PENDING"
                            else None)(job(jid)), f"job {jid} to be requeued", timeout=60)
    run(["scontrol", "update", f"JobId={jid}", "StartTime=now"])
    rec = wait_jobs(jid)[jid][0]
    expect_state(rec, "COMPLETED", "0:0")
    check(rec.get("Restarts") == "1", f"job {jid} restarted {rec.get('Restarts')} times, expected 1")
    log = read_text(rec["StdOut"])
    check(f"requeueing job {jid}" in log, f"the USR1 trap did not requeue:\n{log}")
    m = re.search(r"run 2 of job \d+: 8 steps, (\d+) already done", log)
    check(m and int(m.group(1)) >= 1, f"the second run did not resume:\n{log}")
    d = job_dir("pmr-long", jid)             # still exactly one
    done = os.path.join(d, "done")
    check(steps_done() == 8 and len(set(open(done).read().split())) == 8, f"{done}: {open(done).read()!r}")
    attrs = expect_counts("out/long.h5", gold, "requeue.sbatch")
    check(len(attrs.get("inputs", [])) == 8, f"inputs attribute {attrs.get('inputs')}")
    r = read_record(os.path.join(d, "job.txt"))
    check(r.get("restarts") == "1" and r.get("exit_status") == "0", f"job.txt: {r}")
    check(f"pmr: job {jid} REQUEUED (exit 0): record job.txt and log in {d}/" in log,
          f"the first run's last line does not say it was requeued:\n{log}")
    expect_last_line(rec, "COMPLETED", "out/long.h5", d)


def case_failure():
    make_corpus("in", 2, seed=5)
    bad = sbatch(["-N2", "--ntasks-per-node=2", os.path.join(JOBS, "wordcount.sbatch")],
                 {"INPUT": "in/*.txt missing-file.txt", "OUTPUT": "out/bad.h5", "JOBDIR": "out/badjob"})
    dep = sbatch([f"--dependency=afterok:{bad}", "--output=dep-%j.out",
                  os.path.join(JOBS, "merge.sbatch")], {"INPUT": "out/bad.h5", "OUTDIR": "out"})
    dep2 = sbatch([f"--dependency=afterok:{dep}", "--output=dep-%j.out",
                   os.path.join(JOBS, "merge.sbatch")], {"INPUT": "out/bad.h5", "OUTDIR": "out"})
    recs = wait_jobs(bad, dep, dep2)
    rec = recs[bad][0]
    expect_state(rec, "FAILED", "1:0")
    log = read_text(rec["StdOut"])
    want = "pmr-wordcount: cannot open 'missing-file.txt': No such file or directory"
    msgs = [line for line in log.splitlines() if line.startswith("pmr-wordcount: ")
            and "missing-file.txt" in line]
    check(msgs, f"the app's message is not in {rec['StdOut']}:\n{log}")
    check(len(msgs) == 1, f"expected one message (from rank 0), got {len(msgs)}:\n{log}")
    check(want in msgs[0], f"message {msgs[0]!r}, expected {want!r}")
    check(not os.path.exists("out/bad.h5"), "a failed run left out/bad.h5")
    check(not [f for f in os.listdir("out") if f.startswith(".") or "tmp" in f],
          f"temporary files left in out/: {os.listdir('out')}")
    r = read_record("out/badjob/job.txt")
    check(r.get("exit_status") == "1", f"job record exit_status={r.get('exit_status')}, expected 1")
    expect_last_line(rec, "FAILED (exit 1)", "out/badjob")
    for d in (dep, dep2):
        r = recs[d][0]
        check(r.get("JobState") == "CANCELLED" and r.get("Reason") == "DependencyNeverSatisfied",
              f"dependant {d}: {r.get('JobState')} ({r.get('Reason')}), expected CANCELLED "
              f"(DependencyNeverSatisfied)")
        # Never started: no nodes, no output file, no run time (a job
        # cancelled while pending has StartTime Unknown, or = EndTime).
        check(not r.get("NodeList") and not os.path.exists(f"dep-{d}.out")
              and (r.get("StartTime") in ("Unknown", "None") or r.get("RunTime") == "00:00:00"),
              f"dependant {d} ran: StartTime={r.get('StartTime')} RunTime={r.get('RunTime')} "
              f"NodeList={r.get('NodeList')}")


def case_farm():
    """jobs/farm.sbatch on 2 nodes; USR1 (the time-limit warning) stops the
    farm, the job requeues itself and the next run does exactly the rest."""
    n = 40
    with open("tasks.txt", "w") as f:
        f.write("# each task records itself, then takes a while\n")
        for i in range(n):
            f.write(f"echo {i} $PMR_TASK_HOST $(hostname) >> ran.txt; sleep 0.4\n")
    jid = sbatch(["-N2", "--ntasks-per-node=1", "--cpus-per-task=2",
                  os.path.join(JOBS, "farm.sbatch")],
                 {"TASKS": "tasks.txt", "OUTPUT": "out/farm.h5", "GRACE": "30",
                  "JOBDIR": "out/farmjob"})

    def succeeded():
        got = 0
        d = "out/farm.h5.journal"
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name)) as f:
                got += sum(1 for line in f if not line.startswith("#") and line.split("\t")[1:2] == ["0"])
        return got
    wait_for(lambda: succeeded() >= 6 or job(jid).get("JobState") in TERMINAL, "the first tasks")
    check(job(jid).get("JobState") == "RUNNING",
          f"job {jid} is {job(jid).get('JobState')} before it could be signalled")
    run(["scancel", "--signal=USR1", "--batch", jid])
    rec = wait_for(lambda: (lambda r: r if r.get("Restarts") == "1" and r.get("JobState") == "PENDING"
                            else None)(job(jid)), f"job {jid} to be requeued", timeout=90)
    first = succeeded()
    check(first < n, "every task finished before USR1 arrived: nothing left to requeue")
    # The stopped run wrote what it had done.
    with h5py.File("out/farm.h5", "r") as f:
        a = f["farm"].attrs
        check(int(a["complete"]) == 0 and int(a["succeeded"]) == first,
              f"after the stop: complete={a['complete']} succeeded={a['succeeded']}, journal {first}")
    run(["scontrol", "update", f"JobId={jid}", "StartTime=now"])
    rec = wait_jobs(jid)[jid][0]
    expect_state(rec, "COMPLETED", "0:0")
    check(rec.get("Restarts") == "1", f"job {jid} restarted {rec.get('Restarts')} times, expected 1")
    log = read_text(rec["StdOut"])
    check(f"requeueing job {jid}" in log and "exited with status 75" in log
          and f"pmr: job {jid} REQUEUED (exit 0)" in log,
          f"the stop did not requeue (or the run did not end saying so):\n{log}")
    expect_last_line(rec, "COMPLETED", "out/farm.h5", "out/farmjob")
    # Every task ran exactly once over the two runs (the running ones were
    # let finish within GRACE), on both nodes, as the table says.
    with open("ran.txt") as f:
        ran = [line.split() for line in f]
    ids = sorted(int(r[0]) for r in ran)
    check(ids == list(range(n)), f"tasks run: {ids}")
    check({r[1] for r in ran} == {"n1", "n2"} and all(r[1] == r[2] for r in ran),
          f"hosts: {sorted({(r[1], r[2]) for r in ran})}")
    with h5py.File("out/farm.h5", "r") as f:
        g = f["farm"]
        check(int(g.attrs["tasks"]) == n and int(g.attrs["succeeded"]) == n and
              int(g.attrs["complete"]) == 1 and int(g.attrs["resumed"]) == first,
              f"result attributes: {dict(g.attrs)}")
        check(int(g.attrs["nranks"]) == 2, f"nranks {g.attrs['nranks']}")
        check((g["state"][()] == 0).all() and (g["attempts"][()] == 1).all(), "states/attempts")
        hosts = g["host"][()].tobytes()
        off = g["host_offsets"][()]
        table_hosts = {hosts[off[i]:off[i + 1]].decode() for i in range(n)}
        check(table_hosts == {"n1", "n2"}, f"hosts in the table: {table_hosts}")
    r = read_record("out/farmjob/job.txt")
    check(r.get("restarts") == "1" and r.get("exit_status") == "0", f"job.txt: {r}")
    check("pmr-farm" in r.get("version", ""), f"job.txt version: {r.get('version')}")


def case_templates():
    """What every template promises (jobs/README.md, "Conventions"), on
    wordcount.sbatch and a few others: found from a copy in a directory
    with spaces, submitted by a relative path with sbatch -D elsewhere;
    paths taken from the submit directory; INPUT required (unset or empty),
    INPUT=sample; numbers checked before use; one result directory; the
    last line."""
    top = os.getcwd()
    tdir = os.path.join(top, "tmpl dir")
    shutil.copytree(JOBS, os.path.join(tdir, "jobs"))
    shutil.copytree(os.path.join(SRC, "data", "sample"), os.path.join(tdir, "data", "sample"),
                    ignore=shutil.ignore_patterns("gen"))
    sub = os.path.join(top, "sub mit")
    other = os.path.join(top, "other dir")
    os.makedirs(other)
    os.makedirs(sub)
    os.chdir(sub)
    paths = make_corpus("in", 3, seed=6)
    gold = golden(paths)
    tmpl = os.path.join("..", "tmpl dir", "jobs", "wordcount.sbatch")
    ok = sbatch(["-D", other, "-N2", "--ntasks-per-node=1", tmpl], {"INPUT": "in/*.txt", "TOP": "4"})
    sample = sbatch(["-N1", "--ntasks=2", tmpl], {"INPUT": "sample", "TOP": "0"})
    bad = {
        "unset": (tmpl, {}, "INPUT is not set"),
        "empty": (tmpl, {"INPUT": ""}, "INPUT is not set"),
        "top": (tmpl, {"INPUT": "in/*.txt", "TOP": "$(touch pwned)"}, "TOP must be a whole number from 0 to 1000000"),
        "top-big": (tmpl, {"INPUT": "in/*.txt", "TOP": "99999999999999999999999"}, "TOP must be a whole number"),
        "steps": (os.path.join(JOBS, "requeue.sbatch"), {"INPUT": "in/*.txt", "STEP_FILES": "0"},
                  "STEP_FILES must be a whole number from 1 to"),
        "launcher": (os.path.join(JOBS, "hybrid.sbatch"), {"INPUT": "in/*.txt", "LAUNCHER": "ssh"},
                     "LAUNCHER must be one of: srun mpirun"),
        "bins": (os.path.join(JOBS, "histogram.sbatch"), {"INPUT": "sample", "BINS": "1e3"},
                 "BINS must be a whole number"),
        "grace": (os.path.join(JOBS, "farm.sbatch"), {"TASKS": "t.txt", "GRACE": "-1"},
                  "GRACE must be a whole number"),
    }
    bad_ids = {k: sbatch(["-N1", "--ntasks=1", t], env) for k, (t, env, _) in bad.items()}
    recs = wait_jobs(ok, sample, *bad_ids.values())

    rec = recs[ok][0]
    expect_state(rec, "COMPLETED", "0:0")
    check(rec["StdOut"].startswith(other + "/"), f"log {rec['StdOut']} is not in the -D directory")
    d = job_dir("pmr-wordcount", ok)             # in the submit directory, not in -D's
    expect_counts(os.path.join(d, "wordcount.h5"), gold, "wordcount.sbatch via sbatch -D")
    expect_top(rec["StdOut"], gold, 4)
    expect_record(os.path.join(d, "job.txt"), ok, 2, 1)
    check(os.path.realpath(os.path.join(d, "job.log")) == os.path.realpath(rec["StdOut"]),
          f"{d}/job.log does not lead to {rec['StdOut']}")
    expect_last_line(rec, "COMPLETED", os.path.join(d, "wordcount.h5"))

    rec = recs[sample][0]
    expect_state(rec, "COMPLETED", "0:0")
    sample_files = sorted(os.path.join(tdir, "data", "sample", f)
                          for f in os.listdir(os.path.join(tdir, "data", "sample")) if f.endswith(".txt"))
    expect_counts(os.path.join(job_dir("pmr-wordcount", sample), "wordcount.h5"), golden(sample_files),
                  "INPUT=sample")
    check("\t" not in read_text(rec["StdOut"]), "TOP=0 printed words")

    for k, jid in bad_ids.items():
        rec = recs[jid][0]
        expect_state(rec, "FAILED", "1:0")
        log = read_text(rec["StdOut"])
        check(bad[k][2] in log, f"case {k}: {bad[k][2]!r} not in {rec['StdOut']}:\n{log}")
        line = expect_last_line(rec, "FAILED (exit 1)")
        check("before it started" in line, f"case {k}: last line {line!r}")
    check(not os.path.exists("pwned") and not os.path.exists(os.path.join(other, "pwned")),
          "TOP='$(touch pwned)' ran a command")
    made = sorted(os.listdir("results"))
    check(len(made) == 2, f"failed jobs made result directories: {made}")


# --- the docs' examples -------------------------------------------------------------------

def doc_examples():
    """(where, text) of every example in README.md and jobs/README.md (sh
    blocks that submit something) and in the templates' headers, as
    written, less lines holding a placeholder (<job id>) and duplicates."""
    found = []
    for doc in ("README.md", os.path.join("jobs", "README.md")):
        text = read_text(os.path.join(SRC, doc))
        for m in re.finditer(r"^```sh\n(.*?)^```", text, re.M | re.S):
            block = m.group(1)
            if re.search(r"\bsbatch\b|pipeline\.sh", block):
                line = text[:m.start()].count("\n") + 2
                found.append((f"{doc}:{line}", block))
    for name in sorted(os.listdir(JOBS)):
        if not name.endswith(".sbatch"):
            continue
        lines = read_text(os.path.join(JOBS, name)).split("\n")
        i = 0
        while i < len(lines):
            # An example: a run of lines indented by "#   " that submits something.
            if lines[i].startswith("#   ") and not lines[i - 1].startswith("#   "):
                j = i
                while j < len(lines) and lines[j].startswith("#   "):
                    j += 1
                block = "\n".join(x[4:] for x in lines[i:j]) + "\n"
                if re.search(r"\bsbatch\b", block):
                    found.append((f"jobs/{name}:{i + 1}", block))
                i = j
            else:
                i += 1
    out, seen = [], set()
    for where, block in found:
        kept = [x for x in block.split("\n") if not re.search(r"<[a-z ]+>", x) and not x.startswith("#")]
        key = " ".join(" ".join(kept).replace("\\", " ").split())
        # merge.sbatch's header shows the second half of array.sbatch's
        # example ($arr comes from its first half).
        if key in seen or ("$arr" in key and "arr=$(" not in key):
            continue
        seen.add(key)
        out.append((where, "\n".join(kept)))
    return out


SBATCH_WRAPPER = """#!/bin/bash
# Records the ids of the jobs an example submits, then answers as sbatch does.
out=$("$PMR_REAL_SBATCH" "$@") || exit $?
printf '%s\\n' "$out"
id=${out##* }; id=${id%%;*}
printf '%s\\n' "$id" >>"$PMR_EX_IDS"
"""


def example_fixtures(d):
    """The files the examples name, in the example's directory: the repository's
    jobs/ and data/, and the users' own inputs (runs/*.h5, a.h5, run.h5, tasks)."""
    os.symlink(JOBS, os.path.join(d, "jobs"))
    os.symlink(os.path.join(SRC, "data"), os.path.join(d, "data"))
    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(d, "runs"))
    for i in range(2):
        with h5py.File(os.path.join(d, "runs", f"r{i}.h5"), "w") as f:
            f["particles/energy"] = rng.gamma(2.0, 8.0, 20000)
    for name, ds in (("a.h5", "x"), ("b.h5", "y")):
        with h5py.File(os.path.join(d, name), "w") as f:
            f[ds] = rng.lognormal(0.0, 1.0, 5000)
    x = np.zeros(20000)
    e = rng.normal(size=20000)
    for i in range(1, len(x)):
        x[i] = 0.8 * x[i - 1] + e[i]
    with h5py.File(os.path.join(d, "run.h5"), "w") as f:
        f["signal"] = x
    with open(os.path.join(d, "tasks.txt"), "w") as f:
        f.writelines(f"echo task {i}\n" for i in range(20))
    with open(os.path.join(d, "sweep.csv"), "w") as f:
        f.write("a,b\n1,2\n3,4\n5,6\n")
    os.makedirs(os.path.join(d, "bin"))
    with open(os.path.join(d, "bin", "sim"), "w") as f:
        f.write("#!/bin/sh\necho sim \"$@\"\n")
    os.chmod(os.path.join(d, "bin", "sim"), 0o755)


def case_examples():
    """Every example of README.md, jobs/README.md and the templates' headers,
    run as written (bash, from a directory holding jobs/, data/ and the
    inputs the example names); every job it submits must end COMPLETED with
    a last line saying so."""
    examples = doc_examples()
    check(len(examples) >= 15, f"found only {len(examples)} examples")
    top = os.getcwd()
    wrap = os.path.join(top, "wrap")
    os.makedirs(wrap)
    real = shutil.which("sbatch", path=ENV["PATH"])
    check(real, "no sbatch on PATH")
    with open(os.path.join(wrap, "sbatch"), "w") as f:
        f.write(SBATCH_WRAPPER)
    os.chmod(os.path.join(wrap, "sbatch"), 0o755)
    submitted = []
    for n, (where, text) in enumerate(examples):
        d = os.path.join(top, f"ex{n:02d}")
        os.makedirs(d)
        example_fixtures(d)
        ids = os.path.join(d, "job-ids")
        open(ids, "w").close()
        env = dict(ENV)
        env.update(PATH=os.pathsep.join([wrap, os.path.join(d, "bin"), ENV["PATH"]]),
                   PMR_REAL_SBATCH=real, PMR_EX_IDS=ids)
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=d, env=env,
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f"example {where} exited {p.returncode}:\n{text}\n--- output:\n{p.stdout}{p.stderr}")
        jids = read_text(ids).split()
        check(jids and all(j.isdigit() for j in jids), f"example {where} submitted {jids!r}:\n{text}")
        print(f"{where}: jobs {' '.join(jids)}  [{d}]")
        submitted += [(where, text, j) for j in jids]
    recs = wait_jobs(*[j for _, _, j in submitted], timeout=480)
    for where, text, jid in submitted:
        for r in recs[jid]:
            try:
                expect_state(r, "COMPLETED", "0:0")
                expect_last_line(r, "COMPLETED")
            except Failure as e:
                raise Failure(f"example {where}:\n{text}\n{e}") from None
    print(f"{len(examples)} examples, {len(submitted)} jobs, all COMPLETED")


def case_installed():
    """cmake --install into a scratch prefix, then submit the installed
    wordcount.sbatch with INPUT=sample from a directory with no jobs/ or
    data/, and with no build directory on PATH: the template finds its
    lib.sh, site.env puts the prefix's bin/ on PATH, the sample is the
    installed one."""
    build = os.environ.get("PMR_BUILD_DIR")
    check(build, "PMR_BUILD_DIR is not set")
    prefix = os.path.abspath("prefix")
    run(["cmake", "--install", build, "--prefix", prefix], timeout=120)
    extra = [p for p in os.environ.get("PMR_TEST_PATH", "").split(os.pathsep) if p]
    path = os.pathsep.join(p for p in ENV["PATH"].split(os.pathsep) if p not in extra)
    jid = sbatch(["-N2", "--ntasks-per-node=1",
                  os.path.join(prefix, "share", "pmr", "jobs", "wordcount.sbatch")],
                 {"INPUT": "sample", "PATH": path})
    rec = wait_jobs(jid)[jid][0]
    expect_state(rec, "COMPLETED", "0:0")
    sample = os.path.join(prefix, "share", "pmr", "data", "sample")
    gold = golden(sorted(os.path.join(sample, f) for f in os.listdir(sample)))
    d = job_dir("pmr-wordcount", jid)
    expect_counts(os.path.join(d, "wordcount.h5"), gold, "the installed wordcount.sbatch")
    expect_record(os.path.join(d, "job.txt"), jid, 2, 1)
    expect_top(rec["StdOut"], gold, 10)
    expect_last_line(rec, "COMPLETED", d)


CASES = {
    "up-again": case_up_again,
    "farm": case_farm,
    "wordcount": case_wordcount,
    "hybrid": case_hybrid,
    "array": case_array,
    "pipeline": case_pipeline,
    "gen": case_gen,
    "requeue": case_requeue,
    "failure": case_failure,
    "templates": case_templates,
    "examples": case_examples,
    "installed": case_installed,
}


def main():
    global ENV
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(f"usage: {sys.argv[0]} {{{'|'.join(CASES)}}}", file=sys.stderr)
        return 2
    name = sys.argv[1]
    work = os.path.join(os.environ.get("PMR_TEST_WORK", "/tmp/pmr-slurm-tests"), name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    t0 = time.monotonic()
    try:
        ENV = job_env()
        CASES[name]()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        log = os.path.join(CLUSTER_DIR, "log", "slurmctld.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                tail = f.readlines()[-25:]
            print(f"--- last lines of {log}:\n{''.join(tail)}", file=sys.stderr)
        return 1
    print(f"ok {name} ({time.monotonic() - t0:.1f}s, in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
