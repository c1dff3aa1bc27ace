"""Starting pmr's applications under the MPI launcher, for the app tests.

The launcher comes from the environment CTest sets: $PMR_MPIEXEC (e.g.
"/usr/bin/mpiexec -n") and $PMR_MPIEXEC_PREFLAGS (e.g. "--oversubscribe -q").
"""
import os
import shlex
import signal
import subprocess
import time


def launcher(nprocs, bind_none=True):
    """$PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS, plus --bind-to none for Open MPI
    when bind_none (it binds a rank to one core by default, which would
    serialise threads)."""
    mpiexec = shlex.split(os.environ.get("PMR_MPIEXEC") or "mpiexec -n")
    pre = shlex.split(os.environ.get("PMR_MPIEXEC_PREFLAGS", ""))
    try:
        ver = subprocess.run([mpiexec[0], "--version"], capture_output=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        ver = b""
    if bind_none and (b"Open MPI" in ver or b"OpenRTE" in ver) \
            and "--bind-to" not in pre:
        pre += ["--bind-to", "none"]
    return mpiexec + [str(nprocs)] + pre


def run(cmd, cwd, timeout, env=None, preexec=None):
    """Run cmd in its own process group; on timeout kill the whole group (the
    launcher and every rank) and report it as a hang."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=preexec)
    try:
        out, err = p.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                out, err = p.communicate(timeout=10)
                break
            except subprocess.TimeoutExpired:
                out, err = b"", b""
        hung = True
    return p.returncode, out, err, hung, time.monotonic() - t0
