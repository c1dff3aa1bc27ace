#!/usr/bin/env bash
# Install pmr into a scratch prefix, then, with only that prefix (no source
# tree, no build tree on any path), do what README.md's "After install"
# says: run an app on the installed sample data, build the installed
# example with find_package(pmr) and with pkg-config (also where MPI has no
# mpi-c.pc), render every installed man page, load the module files (Lmod,
# when installed: cluster/install-deps --docs), and check the templates
# point at the prefix. Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/pmr-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/pmr.h"
libdir=$(cd "$prefix" && ls -d lib*/cmake/pmr | head -n 1)
libdir=${libdir%/cmake/pmr}
for f in bin/pmr-wordcount bin/pmr-gen share/pmr/jobs/lib.sh share/pmr/jobs/site.env \
         share/pmr/jobs/wordcount.sbatch share/pmr/jobs/pipeline.sh share/pmr/jobs/README.md \
         share/pmr/examples/CMakeLists.txt share/pmr/examples/sum_by_residue.c \
         share/pmr/data/sample/seasons.txt share/pmr/data/points.h5 \
         share/man/man1/pmr-wordcount.1 share/man/man3/pmr.3 \
         share/doc/pmr/README.md share/doc/pmr/CHANGELOG.md share/doc/pmr/LICENSE \
         "$libdir/pkgconfig/pmr.pc"; do
  test -f "$prefix/$f" || fail "$f is not installed"
done

# Only the prefix from here on: a clean environment, system directories only.
read -r -a launch <<<"$PMR_MPIEXEC"
read -r -a pre <<<"${PMR_MPIEXEC_PREFLAGS:-}"
clean=(env -i HOME="$work" TMPDIR="$work" PATH="$prefix/bin:/usr/bin:/bin"
       OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
       OMPI_MCA_rmaps_base_oversubscribe=1 OMP_WAIT_POLICY=passive)

# 1. An installed app on the installed sample.
v=$("${clean[@]}" pmr-wordcount --version | awk 'NR == 1 {print $NF}')
out=$("${clean[@]}" OMP_NUM_THREADS=1 "${launch[@]}" 2 "${pre[@]}" pmr-wordcount --top 3 \
      "$prefix"/share/pmr/data/sample/*.txt -o "$work/wc.h5")
[ "$(printf '%s\n' "$out" | wc -l)" = 3 ] || fail "pmr-wordcount --top 3 printed: $out"
test -f "$work/wc.h5" || fail "pmr-wordcount wrote no result"

# 2. The installed example, with CMake ...
ex=$prefix/share/pmr/examples
"${clean[@]}" CMAKE_PREFIX_PATH="$prefix" cmake -S "$ex" -B "$work/cmake-build" >/dev/null
"${clean[@]}" cmake --build "$work/cmake-build" >/dev/null
# ... and with pkg-config and the plain C compiler: pmr.pc names MPI itself
# (no mpi-c.pc needed; PKG_CONFIG_LIBDIR leaves out the system's .pc files).
pcdir=$prefix/$libdir/pkgconfig
grep -q '^Requires: *$' "$pcdir/pmr.pc" || fail "pmr.pc requires another .pc: $(grep Requires "$pcdir/pmr.pc")"
flags=$("${clean[@]}" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --cflags --libs pmr)
# shellcheck disable=SC2086 # flags is a list
"${clean[@]}" cc -std=c17 -o "$work/pc_sum" "$ex/sum_by_residue.c" $flags
# ... and with the MPI wrapper (the documented fallback).
# shellcheck disable=SC2086
"${clean[@]}" PKG_CONFIG_PATH="$pcdir" mpicc -std=c17 -o "$work/mpicc_sum" "$ex/sum_by_residue.c" \
  $("${clean[@]}" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs pmr)
for exe in "$work/cmake-build/sum_by_residue" "$work/pc_sum" "$work/mpicc_sum"; do
  out=$("${clean[@]}" OMP_NUM_THREADS=2 "${launch[@]}" 2 "${pre[@]}" "$exe")
  echo "$exe: $out"
  [ "${out%% *}" = ok ] || fail "$exe printed '$out'"
done
"${launch[@]}" 1 "${pre[@]}" "$prefix/bin/pmr-farm" --version

# One version everywhere (README "Versions and licence"): the apps', pmr.pc's
# and the library file's.
pcv=$("${clean[@]}" PKG_CONFIG_PATH="$pcdir" pkg-config --modversion pmr)
[ "$v" = "$pcv" ] || fail "pmr-wordcount says $v, pmr.pc $pcv"
ls "$prefix/$libdir"/libpmr.so."$v" >/dev/null || fail "no libpmr.so.$v in $prefix/$libdir"

# 3. Man pages: one per app and pmr(3), found through MANPATH, rendered
# without a warning.
pages=(1:pmr-wordcount 1:pmr-merge 1:pmr-histogram 1:pmr-autocorr 1:pmr-kmeans 1:pmr-gen 1:pmr-farm 3:pmr)
if command -v groff >/dev/null; then
  for p in "${pages[@]}"; do
    f=$prefix/share/man/man${p%%:*}/${p#*:}.${p%%:*}
    test -f "$f" || fail "no man page $f"
    warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1) || fail "groff failed on $f: $warn"
    [ -z "$warn" ] || fail "groff warns on $f: $warn"
  done
  if command -v man >/dev/null; then
    "${clean[@]}" MANPATH="$prefix/share/man" man -w pmr-wordcount | grep -qx "$prefix/share/man/man1/pmr-wordcount.1" ||
      fail "man does not find pmr-wordcount(1) through MANPATH"
    "${clean[@]}" MANPATH="$prefix/share/man" MANWIDTH=80 man 3 pmr 2>&1 | grep -q "pmr_ctx_create" ||
      fail "man 3 pmr does not render"
  fi
else
  echo "groff not found: man pages not rendered (cluster/install-deps --docs)"
fi

# 4. Module files: Lmod loads the .lua one; the Tcl one, copied alone into
# a tree of the same depth (Lmod prefers .lua beside it), must do the same.
lmod_init=/usr/share/lmod/lmod/init/bash
if [ -r "$lmod_init" ]; then
  mkdir -p "$prefix/share/modulefiles-tcl/pmr"
  cp "$prefix/share/modulefiles/pmr/$v" "$prefix/share/modulefiles-tcl/pmr/$v"
  head -n 1 "$prefix/share/modulefiles-tcl/pmr/$v" | grep -q '^#%Module' || fail "the Tcl module file lacks #%Module"
  want=("$prefix/bin/pmr-wordcount" "$prefix/$libdir/pkgconfig" "$prefix" "$prefix/share/man" "$prefix/share/pmr/jobs")
  for tree in "$prefix/share/modulefiles" "$prefix/share/modulefiles-tcl"; do
    got=$("${clean[@]}" MODULEPATH= bash -c '
      . "$1" >/dev/null 2>&1
      module use "$2" && module load pmr && module is-loaded pmr || exit 1
      printf "%s\n" "$(command -v pmr-wordcount)" "$PKG_CONFIG_PATH" "$CMAKE_PREFIX_PATH" "$MANPATH" "$PMR_JOBS"
    ' _ "$lmod_init" "$tree") || fail "module load pmr failed ($tree)"
    i=0
    while IFS= read -r line; do
      case $line in "${want[i]}"|"${want[i]}":*) ;; *) fail "module load pmr ($tree): got '$line', want '${want[i]}'" ;; esac
      i=$((i + 1))
    done <<<"$got"
    [ "$i" = 5 ] || fail "module load pmr ($tree) printed: $got"
  done
  echo "module load pmr: ok (Lmod, the .lua and the Tcl file)"
else
  echo "Lmod not installed: module files not loaded (cluster/install-deps --docs)"
fi

# 5. The installed templates find the installed lib.sh, and site.env the prefix.
grep -qF "PMR_JOBS_DIR=\${PMR_JOBS_DIR:-\"$prefix/share/pmr/jobs\"}" "$prefix/share/pmr/jobs/wordcount.sbatch" ||
  fail "the installed wordcount.sbatch does not name its jobs directory"
grep -qF "PMR_PREFIX=\${PMR_PREFIX:-\"$prefix\"}" "$prefix/share/pmr/jobs/site.env" ||
  fail "the installed site.env does not name the prefix"
for t in "$prefix"/share/pmr/jobs/*.sbatch "$prefix/share/pmr/jobs/pipeline.sh"; do
  test -x "$t" && bash -n "$t" || fail "$t is not an executable bash script"
done
# Outside Slurm, without INPUT: the template stops at once and says what to set.
msg=$(cd "$work" && "${clean[@]}" bash "$prefix/share/pmr/jobs/wordcount.sbatch" 2>&1) &&
  fail "wordcount.sbatch without INPUT succeeded: $msg"
echo "$msg" | grep -q "INPUT is not set" || fail "wordcount.sbatch without INPUT said: $msg"
echo "$msg" | tail -n 1 | grep -q "FAILED (exit 1)" || fail "last line: $msg"
echo "install: ok"
