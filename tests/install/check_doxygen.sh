#!/usr/bin/env bash
# The API reference from pmr.h (the `docs` target's Doxyfile), with every
# Doxygen warning an error. Usage: check_doxygen.sh DOXYGEN DOXYFILE
set -euo pipefail
doxygen=$1 doxyfile=$2
out=$(sed -n 's/^OUTPUT_DIRECTORY *= *//p' "$doxyfile")
rm -rf "$out"
mkdir -p "$out"
"$doxygen" "$doxyfile"
log=$out/warnings.log
if [ -s "$log" ]; then
  echo "FAIL: doxygen warnings:" >&2
  cat "$log" >&2
  exit 1
fi
test -f "$out/html/pmr_8h.html" || { echo "FAIL: no html/pmr_8h.html in $out" >&2; exit 1; }
echo "doxygen: $(find "$out/html" -name '*.html' | wc -l) pages, no warnings"
