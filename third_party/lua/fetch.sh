#!/usr/bin/env bash
# fetch.sh DEST
#
# Puts Debian's lua5.4 source package, unpacked with Debian's patches applied,
# under DEST and prints the path of that source tree on stdout (and nothing
# else there: every message goes to stderr). CMake runs this at configure time
# when LUA_SOURCE_DIR is not given; see third_party/README.md.
#
# Why Debian's source: the Linux build links Debian's liblua5.4 (5.4.4 on
# Debian 12), and the Windows build should run the very same Lua, patches
# included, without committing anyone's source to our repository.
#
# Steps, each skipped when its result is already there:
#   1. DEST/source-dir names an unpacked tree: print it and stop (offline).
#   2. The download cache holds a .dsc: unpack it (offline).
#   3. Otherwise download: install dpkg-dev if missing, enable deb-src lines
#      (derived from the system's own `deb` entries into a file of our own,
#      only when no deb-src entry exists at all), `apt-get update` when apt
#      has no source index yet, `apt-get source --download-only`.
#
# Environment:
#   LUA_DEB_SOURCE   what to ask apt for (default lua5.4; e.g.
#                    lua5.4=5.4.4-3+deb12u1 to pin a version)
#   HOST_DEBSRC_CACHE  download cache (default ~/.cache/host-deb-src), kept
#                    across build directories so a new build dir can be set
#                    up offline once one fetch has succeeded
#
# Downloading is done in a temporary directory owned by apt's sandbox user
# `_apt` (when we are root), so apt keeps its sandbox and prints no
# "Download is performed unsandboxed as root" warning.

set -euo pipefail

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
say() { echo "fetch.sh: $*" >&2; }

(( $# == 1 )) || die "usage: $0 DEST-DIR   (prints the path of the patched lua5.4 source tree)"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
apt_ensure="$here/../../cmake/apt-ensure.sh"
request=${LUA_DEB_SOURCE:-lua5.4}
srcpkg=${request%%=*}
cache=${HOST_DEBSRC_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/host-deb-src}
ours=/etc/apt/sources.list.d/host-deb-src

mkdir -p "$1" "$cache" || die "cannot create $1 or $cache"
dest=$(cd "$1" && pwd)

# One fetch at a time per destination (parallel configures of one tree).
exec 8>"$dest/.fetch.lock"
flock 8

# --- 1. cached tree ----------------------------------------------------------
if [[ -f $dest/source-dir ]]; then
    tree="$dest/$(<"$dest/source-dir")"
    if [[ -f $tree/src/lua.h ]]; then
        printf '%s\n' "$tree"
        exit 0
    fi
    say "stale $dest/source-dir (no $tree/src/lua.h); fetching again"
    rm -f "$dest/source-dir"
fi

# --- deb-src helpers ---------------------------------------------------------

# True when any apt source (either format) already has an enabled deb-src entry.
have_deb_src() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n"; found = 1 }
             {
                 types = ""; enabled = "yes"
                 for (i = 1; i <= NF; i++) {
                     l = tolower($i)
                     if (l ~ /^types:/)   types = " " substr(l, 7) " "
                     if (l ~ /^enabled:/) enabled = substr(l, 9)
                 }
                 gsub(/[ \t]/, "", enabled)
                 if (enabled != "no" && types ~ /[ \t]deb-src[ \t]/) found = 0
             }
             END { exit found }' "$f" && return 0
    done
    return 1
}

# Prints a deb822 file with one deb-src stanza per enabled `Types: deb` stanza
# of the input. Other fields, continuation lines included, are kept; comment
# lines are dropped.
deb822_to_src() {
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
             types = ""; enabled = "yes"; body = ""; skip = 0
             for (i = 1; i <= NF; i++) {
                 line = $i
                 if (line ~ /^#/) continue
                 if (line ~ /^[ \t]/) {              # continuation of a field
                     if (!skip) body = body line "\n"
                     continue
                 }
                 l = tolower(line); skip = 0
                 if (l ~ /^types:/)   { types = " " substr(l, 7) " "; skip = 1; continue }
                 if (l ~ /^enabled:/) { enabled = substr(l, 9) }
                 body = body line "\n"
             }
             gsub(/[ \t]/, "", enabled)
             gsub(/\t/, " ", types)
             if (enabled == "no" || types !~ / deb /) next
             printf "%sTypes: deb-src\n%s", (n++ ? "\n" : ""), body
         }' "$1"
}

# Writes our own deb-src file(s), derived from the system's deb entries.
enable_deb_src() {
    local f list="" src=""
    (( EUID == 0 )) || die "apt has no deb-src entries and we are not root.
  Enable deb-src for Debian's archive (or run as root, or pass -DLUA_SOURCE_DIR=...)."
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f && $f != "$ours.list" ]] || continue
        list+=$(sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f")$'\n'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f && $f != "$ours.sources" ]] || continue
        src+=$(deb822_to_src "$f")$'\n\n'
    done
    if [[ -n ${list//[[:space:]]/} ]]; then
        printf '# Written by third_party/lua/fetch.sh: deb-src twins of the deb lines in /etc/apt.\n%s' \
            "$list" >"$ours.list"
        say "wrote $ours.list"
    fi
    if [[ -n ${src//[[:space:]]/} ]]; then
        printf '# Written by third_party/lua/fetch.sh: deb-src twins of the Types: deb stanzas in /etc/apt.\n\n%s' \
            "$(printf '%s' "$src" | cat -s)" >"$ours.sources"
        printf '\n' >>"$ours.sources"
        say "wrote $ours.sources"
    fi
    [[ -f $ours.list || -f $ours.sources ]] || die "found no 'deb' entries in /etc/apt to derive deb-src from"
}

apt_knows_source() {
    apt-cache showsrc --only-source "$srcpkg" 2>/dev/null | grep -q "^Package: $srcpkg\$"
}

apt_update() {
    (( EUID == 0 )) || die "apt has no source index for $srcpkg; run 'apt-get update' as root"
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >&2 \
        || die "apt-get update failed (offline, and nothing cached in $cache?)"
}

# Downloads the source package's files (.dsc, tarballs) into the cache.
download() {
    local tmp rc=0
    command -v apt-get >/dev/null || die "no apt-get here: pass -DLUA_SOURCE_DIR=/path/to/lua-5.4 instead"
    if ! apt_knows_source; then
        have_deb_src || enable_deb_src
        apt_update
        apt_knows_source || die "apt knows no source package '$srcpkg' even after enabling deb-src"
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/host-lua-src.XXXXXX")
    if (( EUID == 0 )) && id _apt >/dev/null 2>&1; then
        chown _apt "$tmp"
    fi
    say "apt-get source --download-only $request"
    (cd "$tmp" && apt-get -q source --download-only "$request") >&2 || rc=$?
    if (( rc != 0 )); then
        rm -rf "$tmp"
        die "apt-get source --download-only $request failed (exit $rc)"
    fi
    chown -R "$(id -u):$(id -g)" "$tmp"
    mv -f "$tmp"/* "$cache"/
    rmdir "$tmp"
}

# Prints the newest cached .dsc of the source package, if any.
cached_dsc() {
    local f best="" bestver="" ver
    for f in "$cache/${srcpkg}"_*.dsc; do
        [[ -f $f ]] || continue
        ver=$(sed -n 's/^Version: *//p' "$f")
        if [[ ${request#*=} != "$request" && $ver != "${request#*=}" ]]; then
            continue                      # a pinned version that isn't this one
        fi
        if [[ -z $best ]] || dpkg --compare-versions "$ver" gt "$bestver"; then
            best=$f bestver=$ver
        fi
    done
    [[ -n $best ]] && printf '%s\n' "$best"
}

# --- 2./3. unpack, downloading first when the cache has nothing --------------
command -v dpkg-source >/dev/null || "$apt_ensure" dpkg-dev \
    || die "dpkg-source (package dpkg-dev) is needed to unpack Debian sources"

dsc=$(cached_dsc || true)
if [[ -z $dsc ]]; then
    download
    dsc=$(cached_dsc || true)
    [[ -n $dsc ]] || die "download left no ${srcpkg}_*.dsc in $cache"
fi

version=$(sed -n 's/^Version: *//p' "$dsc")
name="$srcpkg-${version#*:}"
work=$(mktemp -d "$dest/.unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "unpacking $(basename "$dsc")"
# Default options: dpkg-source checks the tarballs' hashes against the .dsc
# and applies debian/patches of a 3.0 (quilt) package. Its log is shown only
# on failure: it always warns that the maintainer's signature can't be
# checked (that needs the debian-keyring package), while apt has already
# checked every file against the archive's signed index when downloading.
if ! dpkg-source -x "$dsc" "$work/tree" >"$work/unpack.log" 2>&1; then
    cat "$work/unpack.log" >&2
    die "dpkg-source -x $dsc failed"
fi

tree="$work/tree"
[[ -f $tree/src/lua.h ]] || die "$dsc unpacked, but has no src/lua.h"
if [[ -s $tree/debian/patches/series ]] && ! [[ -s $tree/.pc/applied-patches ]]; then
    die "Debian patches of $name were not applied"
fi

if [[ -s $tree/.pc/applied-patches ]]; then
    say "Debian patches applied: $(tr '\n' ' ' <"$tree/.pc/applied-patches")"
fi
rm -rf "${dest:?}/$name"
mv "$tree" "$dest/$name"
printf '%s\n' "$name" >"$dest/source-dir.tmp"
mv -f "$dest/source-dir.tmp" "$dest/source-dir"
say "patched source tree: $dest/$name"
printf '%s\n' "$dest/$name"
