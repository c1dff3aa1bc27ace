#!/usr/bin/env python3
"""Write a deterministic corpus of awkward inputs for the word-count tests.

    make_corpus.py DIR        writes the files, prints their paths in order

Every file targets one way a splitter or tokeniser goes wrong: bytes that
are not ASCII whitespace but look like it (NUL, U+00A0, U+3000, U+0085,
0x1c-0x1f), invalid UTF-8, CRLF, \\v and \\f, runs of whitespace, a 5 MB word
and a 2 MB line (longer than any sensible read buffer), files shorter than
the rank count, empty and whitespace-only files, many small files whose
last word touches the next file's first word (no word may span two files),
a few MB of random words (crosses internal chunk boundaries at any rank
count), and words with tied counts that straddle the --top cut-off so the
tie-break (memcmp order, unsigned bytes, prefix first) decides what prints.

corpus_files(DIR) returns the paths in the order they must be passed.
corpus_files(DIR, "empty") writes only files without a single word (empty,
whitespace-only), corpus_files(DIR, "tiny") three words in 1-3 byte files:
fewer words and bytes than ranks, so most ranks own nothing.
"""
import os
import random
import sys

SEED = 20261127


def _words(rng, n, lo=3, hi=10):
    """n distinct random lower-case words."""
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                        for _ in range(rng.randint(lo, hi))).encode())
    return sorted(out)


def _lines(rng, vocab, nbytes, seps=(b" ",), eols=(b"\n",)):
    """Random lines of 1..20 words drawn from vocab, about nbytes in all."""
    out, size = [], 0
    while size < nbytes:
        n = rng.randint(1, 20)
        parts = []
        for i in range(n):
            if i:
                parts.append(rng.choice(seps))
            parts.append(rng.choice(vocab))
        line = b"".join(parts) + rng.choice(eols)
        out.append(line)
        size += len(line)
    return b"".join(out)


KINDS = ("full", "empty", "tiny")


def corpus_files(root, kind="full"):
    """Write the corpus `kind` under root (created if needed); return the paths."""
    rng = random.Random(SEED)
    os.makedirs(root, exist_ok=True)
    files = []

    def put(name, data):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        files.append(path)

    if kind == "empty":
        put("e0.txt", b"")
        put("e1.txt", b"\n")
        put("e2.txt", b" \t\r\n\x0b\x0c " * 50)
        put("e3.txt", b"")
        return files
    if kind == "tiny":
        put("t0.txt", b"x")
        put("t1.txt", b"")
        put("t2.txt", b"y\n")
        put("t3.txt", b" x ")
        return files
    if kind != "full":
        raise ValueError("corpus kind must be one of %s" % (KINDS,))

    vocab = _words(rng, 20000)

    put("00_empty.txt", b"")
    put("01_whitespace_only.txt", b" \t\n\r\n\x0b\x0c   \n\n\t\t\r\n \x0c")
    put("02_one_byte.txt", b"a")
    put("03_two_bytes.txt", b"b\n")
    put("04_three_bytes.txt", b"c d")
    put("05_newline_only.txt", b"\n")
    put("06_tricky.txt", b"".join([
        b"plain words here\n",
        b"  leading and trailing   \n",
        b"tabs\tbetween\t\twords\t\n",
        b"vt\x0bff\x0ccr\rmixed \x0b\x0c\r\t runs\n",
        b"crlf line\r\n",
        b"\r\n",
        b"nul\x00inside ab\x00cd \x00 \x00\x00 trailing\x00\n",
        b"utf8 caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80\n",
        # U+00A0, U+3000, U+2003, U+0085: not separators, part of words
        b"nbsp\xc2\xa0joined ideographic\xe3\x80\x80space em\xe2\x80\x83space nel\xc2\x85x\n",
        b"\xc2\xa0 \xe3\x80\x80 \xc2\x85\n",
        # bytes 0x1c..0x1f and 0x85, 0xa0 alone: not whitespace for bytes.split()
        b"fs\x1cgs\x1drs\x1eus\x1f \x1c \x1d\x1e\x1f \x85 \xa0 \x85\xa0\n",
        b"invalid \xff \xfe\xff caf\xc3 \xc3\x28 \xe2\x82 \xf0\x28\x8c\xbc \xc0\xaf\n",
        b"high\x80\x81\xfe\xff bytes \x7f del\x7f\n",
        b"\n\n\n",
        b"Case CASE case cAsE Mixed123mixed abc-def it's 3.14 x_y\n",
        b"last line without newline",
    ]))
    put("07_crlf.txt", b"".join(
        b" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) + b"\r\n"
        for _ in range(3000)))
    big = bytes(rng.choice(b"xyzXYZ\x00\xc3\xa9\xff-") for _ in range(4096))
    put("08_big_word.txt", b"before the word\n" + big * (5 * 1024 * 1024 // len(big))
        + b"\nafter the word")
    put("09_long_line.txt", b" ".join(rng.choice(vocab) for _ in range(300000))[: 2 * 1024 * 1024].rstrip()
        + b"\nshort line one\nshort line two\n")
    put("10_medium.txt", _lines(rng, vocab, 3 * 1024 * 1024,
                                seps=(b" ",) * 20 + (b"\t", b"  ", b" \t ", b"\x0b", b"\x0c"),
                                eols=(b"\n",) * 20 + (b"\r\n", b"\n\n", b" \n", b"\n\t")))
    # Tied counts straddling the --top 20 cut-off: two words clearly first,
    # then 30 words with the same count, of which 18 make the cut. memcmp
    # order: b"Q" < b"Q\x00" < b"Q\x00\x00" < b"Q\x01" < b"QA" < b"Qa" < b"Q\xc3\xa9" < b"Q\xff".
    tied = [b"Q", b"Q\x00", b"Q\x00\x00", b"Q\x01", b"QA", b"QAA", b"QB", b"QZ", b"Q_",
            b"Qa", b"Qaa", b"Qab", b"Qb", b"Qz", b"Q\x7f", b"Q\x80", b"Q\xc3\xa9",
            b"Q\xfe", b"Q\xff", b"Q\xff\xff", b"R", b"R\x00", b"RR", b"Ra", b"R\xff",
            b"S", b"Sa", b"T", b"\x00Q", b"\xffQ"]
    counts = {b"Zfirst": 4000, b"Ysecond": 3500}
    counts.update((w, 3000) for w in tied)
    counts.update((w, 2999) for w in (b"Q\x00\x01", b"Qc", b"U"))
    bag = [w for w, c in counts.items() for _ in range(c)]
    rng.shuffle(bag)
    put("11_ties.txt", b"".join(
        b" ".join(bag[i:i + 13]) + b"\n" for i in range(0, len(bag), 13)))
    put("12_nul_only.bin", b"\x00" * 1000)
    put("13_random_bytes.bin", rng.randbytes(200000))
    # Many small files: sizes 0..2000, half without a final newline, and the
    # next one starting with a word, so a word spanning files would show up.
    for i in range(200):
        kind = i % 10
        if kind == 0:
            data = b""
        elif kind == 1:
            data = rng.choice(vocab)[: rng.randint(1, 3)]
        elif kind == 2:
            data = b" " * rng.randint(1, 3)
        else:
            data = _lines(rng, vocab, rng.randint(1, 2000))
            if kind % 2:
                data = data.rstrip()
            if kind == 3:
                data = b"\n" + data
        put("small/s%03d.txt" % i, data)
    put("99_last_no_newline.txt", b"the very last\nwords")
    return files


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in KINDS):
        sys.exit("usage: make_corpus.py DIR [%s]" % "|".join(KINDS))
    for path in corpus_files(*sys.argv[1:]):
        print(path)


if __name__ == "__main__":
    main()
