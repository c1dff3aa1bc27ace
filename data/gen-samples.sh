#!/bin/sh
# data/gen-samples.sh [DIR]: make pmr-gen's samples in DIR (default:
# sample/gen/ beside this script). PMR_GEN names the generator (default
# pmr-gen on PATH) and may include a launcher:
#   PMR_GEN="mpirun -np 2 build/apps/gen/pmr-gen" data/gen-samples.sh
# The same bytes come out at any rank and thread count; the test
# app.gen.samples checks that these commands still make the committed files.
set -eu
gen=${PMR_GEN:-pmr-gen}
dir=${1:-$(dirname "$0")/sample/gen}
# Three Gaussian blobs in the plane (for pmr-kmeans -k 3), with their
# centres and labels.
$gen points -n 1000 -d 2 -k 3 --spread 0.6 --box 4 -S 1 -o "$dir/blobs.h5"
# An AR(1) series with phi = 0.9 (for pmr-autocorr: r[k] / r[0] ~ 0.9^k).
$gen signal -n 4096 --phi 0.9 -S 2 -o "$dir/ar1.h5"
# Log-normal numbers (for pmr-histogram --log).
$gen numbers -n 2000 --dist lognormal --mean 1 --std 0.5 -S 3 -o "$dir/lognormal.h5"
# A small Zipf corpus (for pmr-wordcount), 8 KiB.
$gen text -s 8K -V 2000 -S 4 -o "$dir/zipf.txt"
# 100 records in the TeraSort / gensort layout (for pmr-sort), 10 KB.
$gen records -n 100 -S 5 -o "$dir/records.dat"
# An R-MAT graph of 256 vertices and 2048 edges as "src dst" lines (for
# pmr-pagerank).
$gen graph --scale 8 --edge-factor 8 -S 5 --text -o "$dir/rmat.txt"
