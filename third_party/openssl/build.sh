#!/usr/bin/env bash
# build.sh [--cc COMPILER]
#
# Prints the path of a prefix that holds OpenSSL for 64-bit Windows, built
# with MinGW-w64 from Debian's openssl source package: include/openssl/*.h,
# lib/libssl.a and lib/libcrypto.a (static: host.exe needs no OpenSSL DLL).
# openssl.cmake runs this at configure time; nothing else is printed on
# stdout, every message goes to stderr.
#
# The prefix lives in a cache outside the clone,
#     ${HOST_OPENSSL_CACHE:-~/.cache/host-openssl}/<debian-version>-mingw64
# so a new build directory, a second clone or a CI re-run on the same
# machine reuses it in well under a second; only the first build compiles
# OpenSSL (about ten minutes on a 2-core machine; third_party/README.md has
# the measured times).  The prefix is used only when its `recipe` file
# matches what this script would build now (the Configure line and the
# compiler's version), so changing either builds a fresh one.
#
# Steps of a cold build: fetch.sh gets and unpacks the source package
# (Debian's patches applied) into a scratch directory in the cache, OpenSSL's
# Configure runs out of tree for the `mingw64` target, `make build_libs`
# compiles the two libraries (no programs, no tests, no docs), the headers
# and libraries are copied into a new prefix that is renamed into place only
# when complete, and the scratch directory is removed.  A lock serialises
# parallel configures.
#
# Options and environment:
#   --cc COMPILER        the MinGW C compiler (default x86_64-w64-mingw32-gcc;
#                        the toolchain file passes the -win32 thread-model one)
#   HOST_OPENSSL_CACHE   the cache directory (default ~/.cache/host-openssl)
#   HOST_OPENSSL_JOBS    make -j (default 2)
#   OPENSSL_DEB_SOURCE, HOST_DEBSRC_CACHE    passed on to fetch.sh

set -euo pipefail

die() { echo "openssl/build.sh: error: $*" >&2; exit 1; }
say() { echo "openssl/build.sh: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
triplet=x86_64-w64-mingw32
cc=$triplet-gcc
while (( $# > 0 )); do
    case $1 in
    --cc) (( $# >= 2 )) || die "--cc needs a compiler"; cc=$2; shift 2 ;;
    *) die "usage: $0 [--cc COMPILER]" ;;
    esac
done
cache=${HOST_OPENSSL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/host-openssl}
jobs=${HOST_OPENSSL_JOBS:-2}

command -v "$cc" >/dev/null || die "no compiler $cc (apt-get install gcc-mingw-w64-x86-64)"
# Configure prepends --cross-compile-prefix to CC, AR, RANLIB and RC, so CC
# is given without it: x86_64-w64-mingw32-gcc-win32 becomes gcc-win32.
ccname=$(basename "$cc")
[[ $ccname == "$triplet-"* ]] || die "$cc is not a $triplet- compiler"
ccname=${ccname#"$triplet-"}

dsc=$(bash "$here/fetch.sh" --dsc) || die "could not get Debian's openssl source package"
version=$(sed -n 's/^Version: *//p' "$dsc")
[[ -n $version ]] || die "$dsc names no Version"
prefix="$cache/${version#*:}-mingw64"

# What a prefix was built with; a prefix whose record differs is rebuilt.
# no-shared: static libraries only.  no-module: no provider or engine is
# loaded from disk (none is built).  no-autoload-config: host.exe never
# reads an openssl.cnf found on the machine (OPENSSLDIR under Program
# Files), so its TLS settings are the ones our code sets, as on Linux.
# no-tests: `make build_libs` would not build them anyway; Configure then
# skips their build files too.  OpenSSL 3.0 has no no-apps/no-docs switch;
# build_libs builds neither.
options=(mingw64 no-shared no-module no-autoload-config no-tests
         --cross-compile-prefix="$triplet-" --libdir=lib --release)
recipe="debian-source $version
configure CC=$ccname ${options[*]}
compiler $("$cc" -dumpfullversion 2>/dev/null || "$cc" -dumpversion)"

usable() {
    [[ -f $1/lib/libssl.a && -f $1/lib/libcrypto.a && -f $1/include/openssl/ssl.h
       && -f $1/recipe && $(<"$1/recipe") == "$recipe" ]]
}

if usable "$prefix"; then
    printf '%s\n' "$prefix"
    exit 0
fi

mkdir -p "$cache" || die "cannot create $cache"
exec 9>"$cache/.build.lock"
flock 9
if usable "$prefix"; then                 # built while we waited for the lock
    printf '%s\n' "$prefix"
    exit 0
fi

for tool in perl make; do             # Configure is Perl; the build, make
    command -v $tool >/dev/null || bash "$here/../../cmake/apt-ensure.sh" $tool \
        || die "OpenSSL's build needs $tool"
done
t0=$SECONDS
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$(bash "$here/fetch.sh" "$work") || die "could not unpack $dsc"
mkdir "$work/build" "$work/prefix"
say "building OpenSSL $version for $triplet in $work (make -j$jobs; this takes minutes)"
# The log outlives the scratch directory only when something failed.
log="$cache/build.log"
failed() {
    tail -n 40 "$log" >&2
    die "$1 failed; the whole log is $log"
}
(cd "$work/build" && perl "$src/Configure" "CC=$ccname" "${options[@]}") >"$log" 2>&1 \
    || failed "OpenSSL's Configure"
make -C "$work/build" -j"$jobs" build_libs >>"$log" 2>&1 || failed "make build_libs"

# The headers are partly in the source (include/openssl/*.h) and partly
# generated from *.h.in in the build tree; the generated ones win.
mkdir -p "$work/prefix/include/openssl" "$work/prefix/lib"
cp "$src"/include/openssl/*.h "$work/prefix/include/openssl/"
cp "$work/build"/include/openssl/*.h "$work/prefix/include/openssl/"
cp "$work/build/libssl.a" "$work/build/libcrypto.a" "$work/prefix/lib/"
cp "$src/LICENSE.txt" "$work/prefix/" 2>/dev/null || true
printf '%s\n' "$recipe" >"$work/prefix/recipe"
rm -rf "$prefix"
mv "$work/prefix" "$prefix"
rm -f "$log"
say "OpenSSL $version for Windows built in $((SECONDS - t0)) s: $prefix"
printf '%s\n' "$prefix"
