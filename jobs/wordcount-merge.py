#!/usr/bin/env python3
"""Merge pmr-wordcount HDF5 results and summarise them.

    wordcount-merge.py [-o MERGED.h5] [--summary FILE] [--top N] RESULT.h5...

Sums the counts of every word over the RESULT files (the parts of a job
array, or the runs of a restarted job) and writes them to MERGED.h5 in the
layout pmr-wordcount writes (group /wordcount: keys, key_offsets, values,
words in ascending byte order). Whether or not it merges, it prints a
summary: files, inputs, total and distinct words, the TOP most frequent
words ("word<TAB>count", count descending, ties by ascending bytes).

Needs h5py and numpy. Serial: memory grows with the number of distinct
words (roughly 100 bytes each), which suits results of up to tens of millions
of distinct words; for more, count all inputs in one pmr-wordcount job.
Exit status: 0 on success, 1 on an unreadable or malformed input, 2 on a
usage error; nothing is left under MERGED.h5's name on failure.
"""

import argparse
import datetime
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # a clear line in the job's output, not a traceback
    sys.exit(f"wordcount-merge: {e}: load a Python with h5py and numpy (PMR_PYTHON in jobs/site.env)")

PROG = "wordcount-merge"


class MergeError(Exception):
    pass


def _attr(group, name, default=None):
    v = group.attrs.get(name, default)
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    return v


def read_result(path, group_name):
    """Returns (counts dict, attrs dict) of one pmr-wordcount result."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise MergeError(f"cannot open '{path}': {e}") from None
    with f:
        if group_name not in f:
            raise MergeError(f"'{path}' has no group /{group_name}")
        g = f[group_name]
        for name in ("keys", "key_offsets", "values"):
            if name not in g:
                raise MergeError(f"'{path}': /{group_name} has no dataset '{name}'")
        keys = g["keys"][()].tobytes()
        offsets = g["key_offsets"][()].astype(np.int64)
        values = g["values"][()]
        n = len(values)
        if (len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(keys)
                or np.any(np.diff(offsets) < 0)):
            raise MergeError(f"'{path}': /{group_name} has inconsistent key_offsets")
        counts = {}
        bounds = offsets.tolist()
        for i, v in enumerate(values.tolist()):
            w = keys[bounds[i]:bounds[i + 1]]
            counts[w] = counts.get(w, 0) + v
        attrs = {
            "pmr_version": _attr(g, "pmr_version", "unknown"),
            "inputs": [bytes(x).decode("utf-8", "replace") if isinstance(x, (bytes, np.bytes_)) else str(x)
                       for x in np.atleast_1d(g.attrs.get("inputs", []))],
        }
        for name in ("records", "input_bytes", "words"):
            attrs[name] = int(g.attrs.get(name, 0))
        for name in ("seconds_map", "seconds_shuffle", "seconds_reduce"):
            attrs[name] = float(g.attrs.get(name, 0.0))
    return counts, attrs


def write_result(path, group_name, counts, attrs, sources):
    """Writes the merged counts; the file appears under its name only when complete."""
    words = sorted(counts)
    offsets = np.zeros(len(words) + 1, dtype=np.uint64)
    offsets[1:] = np.cumsum([len(w) for w in words], dtype=np.uint64)
    keys = np.frombuffer(b"".join(words), dtype=np.uint8)
    values = np.array([counts[w] for w in words], dtype=np.int64)
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            g = f.create_group(group_name)
            g.create_dataset("keys", data=keys, dtype=np.uint8)
            g.create_dataset("key_offsets", data=offsets, dtype=np.uint64)
            g.create_dataset("values", data=values, dtype=np.int64)
            # Fixed-length strings, as pmr-wordcount writes them.
            g.attrs["pmr_version"] = np.bytes_(attrs["pmr_version"])
            g.attrs["app"] = np.bytes_("wordcount")
            g.attrs["command_line"] = np.bytes_(" ".join(sys.argv))
            g.attrs["nranks"] = np.int64(1)
            g.attrs["nthreads"] = np.int64(1)
            g.attrs["created"] = np.bytes_(
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            g.attrs["inputs"] = np.array([s.encode() for s in attrs["inputs"]] or [b""], dtype="S")
            g.attrs["merged_from"] = np.array([s.encode() for s in sources], dtype="S")
            for name in ("records", "input_bytes", "words"):
                g.attrs[name] = np.int64(attrs[name])
            # Sums over the parts: compute time, not elapsed time.
            for name in ("seconds_map", "seconds_shuffle", "seconds_reduce"):
                g.attrs[name] = np.float64(attrs[name])
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def summary(counts, attrs, sources, top):
    lines = [
        f"results      {len(sources)}",
        f"inputs       {len(attrs['inputs'])}",
        f"input bytes  {attrs['input_bytes']}",
        f"lines        {attrs['records']}",
        f"words        {sum(counts.values())}",
        f"distinct     {len(counts)}",
    ]
    out = ("\n".join(lines) + "\n").encode()
    if top > 0:
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out += f"top {len(best)}:\n".encode()
        out += b"".join(w + b"\t" + str(c).encode() + b"\n" for w, c in best)
    return out


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", metavar="RESULT.h5")
    ap.add_argument("-o", "--output", help="write the merged result here")
    ap.add_argument("--group", default="wordcount", help="HDF5 group (default wordcount)")
    ap.add_argument("--top", type=int, default=10, help="most frequent words to list (default 10)")
    ap.add_argument("--summary", help="also write the summary to this file")
    args = ap.parse_args()

    counts = {}
    total = {"pmr_version": None, "inputs": [], "records": 0, "input_bytes": 0, "words": 0,
             "seconds_map": 0.0, "seconds_shuffle": 0.0, "seconds_reduce": 0.0}
    try:
        for path in args.results:
            part, attrs = read_result(path, args.group)
            for w, c in part.items():
                counts[w] = counts.get(w, 0) + c
            total["pmr_version"] = total["pmr_version"] or attrs["pmr_version"]
            total["inputs"] += attrs["inputs"]
            for k in ("records", "input_bytes", "words",
                      "seconds_map", "seconds_shuffle", "seconds_reduce"):
                total[k] += attrs[k]
        if args.output:
            write_result(args.output, args.group, counts, total, args.results)
        text = summary(counts, total, args.results, args.top)
        if args.summary:
            with open(args.summary, "wb") as f:
                f.write(text)
    except (MergeError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
