#!/usr/bin/env python3
"""Inputs and goldens for test_sources, computed in plain Python.

    sources_golden.py DIR     (re)writes DIR with the inputs and goldens

Text (text.list): tricky files (empty, no final newline, CRLF, empty lines,
only newlines, a line longer than any chunk the test uses, NULs and lone
CRs, many short lines, several files); every line with its file index, its
1-based line number as `grep -n` counts it and its byte offset
(text_lines.golden; text_offsets.golden has line 0, as without
PMR_OPT_LINE_NUMBERS). text_small.* are the same with a shorter long line,
for the runs at chunk sizes of a few bytes. The last line of the last file
is FAIL-HERE, where a failing callback stops (fail.txt: file, line,
offset).

Records (records.list): 12-byte records after a 5-byte header in three
files, one of them empty past its header; counts of each distinct record
(records_count.golden) and each record's file, number and offset
(records_pos.golden). records_bad.bin and records_short.bin are not a header
and whole records.

Chain (chain.list): part of tests/apps/make_corpus.py's corpus; its word
count by bytes.split() (chain_words.golden) and the count of counts
(chain_counts.golden: key = the count as 8 big-endian bytes).

A golden is: u64 n, then n times (u64 key length, key bytes, i64 value),
little-endian, keys in ascending byte order (memcmp, a prefix first) as
pmr_kv_gather delivers them.
"""
import collections
import os
import random
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "apps"))
import make_corpus  # noqa: E402

SEED = 20261128
HEADER, RECORD = 5, 12


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_golden(path, pairs):
    """pairs: {key bytes: int value}"""
    out = [struct.pack("<Q", len(pairs))]
    for k in sorted(pairs):
        out.append(struct.pack("<Q", len(k)) + k + struct.pack("<q", pairs[k]))
    write(path, b"".join(out))


def write_list(path, files):
    write(path, b"".join(f.encode() + b"\n" for f in files))


def grep_lines(data):
    """(line number, offset, bytes) of each line, as grep -n numbers them:
    a final line without a newline counts, no line after a final newline."""
    out, off = [], 0
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    if not data:
        parts = []
    for n, line in enumerate(parts, 1):
        out.append((n, off, line))
        off += len(line) + 1
    return out


def text_inputs(d, rng):
    long1 = bytes(rng.choice(b"abcdefghij \t\r\x00\xff") for _ in range(70000))
    long2 = bytes(rng.choice(b"xyz") for _ in range(5000))
    many = b"".join(b"line %d %s\n" % (i, b"w" * (i % 37)) for i in range(600))
    tricky = (b"nul\x00inside\n lone\rcr\n\x0b\x0c\n\r\n\xc3\xa9\xff\n"
              b"tabs\t\tend\t\n")
    files = [
        ("t00_empty.txt", b""),
        ("t01_nofinal.txt", b"alpha\nbeta\ngamma"),
        ("t02_crlf.txt", b"one\r\ntwo\r\n\r\nthree\r\n"),
        ("t03_empty_lines.txt", b"\n\n\nx\n\n"),
        ("t04_long.txt", b"head\n" + long1 + b"\n\nmid\n" + long2 + b"\ntail"),
        ("t05_empty.txt", b""),
        ("t06_tricky.txt", tricky),
        ("t07_many.txt", many),
        ("t08_newlines.txt", b"\n" * 50),
        ("t09_one_byte.txt", b"z"),
        ("t10_last.txt", b"last file\n\nFAIL-HERE"),
    ]
    # The same, but for the long line, for runs at chunk sizes of a few
    # bytes (one part per chunk: a 70 KB line would only cost time there;
    # 5000 bytes is still far longer than those chunks).
    small = list(files)
    small[4] = ("t04_long_small.txt", b"head\n" + long1[:3000] + b"\n\nmid\n"
                + long2 + b"\ntail")
    for name, data in files + small:
        write(os.path.join(d, name), data)
    fail = None
    for tag, fs in (("text", files), ("text_small", small)):
        paths, lines, offsets = [], {}, {}
        for i, (name, data) in enumerate(fs):
            path = os.path.join(d, name)
            paths.append(path)
            for n, off, line in grep_lines(data):
                head = struct.pack(">I", i)
                lines[head + struct.pack(">QQ", n, off) + line] = 1
                offsets[head + struct.pack(">QQ", 0, off) + line] = 1
                if line == b"FAIL-HERE":
                    fail = (path, n, off)
        assert fail and fail[0] == paths[-1]
        write_list(os.path.join(d, tag + ".list"), paths)
        write_golden(os.path.join(d, tag + "_lines.golden"), lines)
        write_golden(os.path.join(d, tag + "_offsets.golden"), offsets)
    write(os.path.join(d, "fail.txt"), b"%s\t%d\t%d\n" % (
        fail[0].encode(), fail[1], fail[2]))


def record_inputs(d, rng):
    pool = [bytes(rng.randrange(256) for _ in range(RECORD)) for _ in range(6)]
    pool += [b"\x00" * RECORD, b"\n" * RECORD]
    nrecs = [10, 0, 37]
    paths, counts, pos = [], collections.Counter(), {}
    for f, n in enumerate(nrecs):
        recs = [rng.choice(pool) for _ in range(n)]
        path = os.path.join(d, "records%d.bin" % f)
        write(path, b"HDR%d\n" % f + b"".join(recs))
        paths.append(path)
        for r, rec in enumerate(recs):
            counts[rec] += 1
            pos[struct.pack(">IQQ", f, r, HEADER + r * RECORD) + rec] = 1
    assert len(b"HDR0\n") == HEADER
    write_list(os.path.join(d, "records.list"), paths)
    write_golden(os.path.join(d, "records_count.golden"), dict(counts))
    write_golden(os.path.join(d, "records_pos.golden"), pos)
    write(os.path.join(d, "records_bad.bin"), b"HDRb\n" + b"r" * (RECORD * 2 + 6))
    write(os.path.join(d, "records_short.bin"), b"HD")


def chain_inputs(d):
    files = [f for f in make_corpus.corpus_files(os.path.join(d, "corpus"))
             if not any(big in f for big in ("08_big", "09_long", "10_medium"))]
    words = collections.Counter()
    for f in files:
        with open(f, "rb") as fp:
            words.update(fp.read().split())
    counts = collections.Counter(words.values())
    write_list(os.path.join(d, "chain.list"), files)
    write_golden(os.path.join(d, "chain_words.golden"), dict(words))
    write_golden(os.path.join(d, "chain_counts.golden"),
                 {struct.pack(">Q", c): n for c, n in counts.items()})


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sources_golden.py DIR")
    d = os.path.abspath(sys.argv[1])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = random.Random(SEED)
    text_inputs(d, rng)
    record_inputs(d, rng)
    chain_inputs(d)


if __name__ == "__main__":
    main()
