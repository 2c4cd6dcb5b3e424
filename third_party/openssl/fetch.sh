#!/usr/bin/env bash
# fetch.sh --dsc          make sure Debian's openssl source package is in the
#                         download cache; print the path of its .dsc
# fetch.sh DEST           unpack it, Debian's patches applied, into a new
#                         directory under DEST; print that tree's path
#
# third_party/openssl/build.sh calls this when the prebuilt cache has no
# OpenSSL for Windows yet (see third_party/README.md).  Why Debian's source:
# the Linux build links Debian's libssl3, and the Windows build should carry
# the same OpenSSL line with the same security patches, fetched through the
# same signed archive, with nothing of OpenSSL committed to our repository.
#
# Only stdout carries a path; every message goes to stderr.
#
# The download cache is shared with the Lua recipe (third_party/lua), so one
# machine fetches each source package once:
#   HOST_DEBSRC_CACHE    default ~/.cache/host-deb-src
#   OPENSSL_DEB_SOURCE   what to ask apt for: openssl (default, the newest
#                        version apt knows) or e.g. openssl=3.0.17-1~deb12u2
#
# Getting the package, when the cache has no matching .dsc:
#   * dpkg-dev is installed if dpkg-source is missing (cmake/apt-ensure.sh);
#   * if apt knows no source package `openssl` and no deb-src entry is
#     enabled anywhere, a deb-src twin of every enabled `deb` entry is written
#     to /etc/apt/sources.list.d/host-deb-src.{sources,list} (the same file
#     names the Lua recipe uses, so the two never add the entries twice), and
#     `apt-get update` runs;
#   * `apt-get source --download-only` runs in a temp directory that apt's
#     sandbox user `_apt` owns, so apt keeps its sandbox when we are root.
# Root is needed only for those three; as a normal user the script says what
# to do instead.  `dpkg-source -x` checks the files against the .dsc's hashes
# and applies debian/patches (quilt); the script checks that it did.

set -euo pipefail

die() { echo "openssl/fetch.sh: error: $*" >&2; exit 1; }
say() { echo "openssl/fetch.sh: $*" >&2; }

(( $# == 1 )) || die "usage: $0 --dsc | DEST-DIR"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
apt_ensure="$here/../../cmake/apt-ensure.sh"
want=${OPENSSL_DEB_SOURCE:-openssl}
pkg=${want%%=*}
pin=""
[[ $want == *=* ]] && pin=${want#*=}
cache=${HOST_DEBSRC_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/host-deb-src}
srcfile=/etc/apt/sources.list.d/host-deb-src

mkdir -p "$cache" || die "cannot create the download cache $cache"

# --- the download cache --------------------------------------------------------

# Prints the .dsc in the cache that answers the request: the pinned version,
# or else the highest version there.
pick_dsc() {
    local f v best="" bestv=""
    for f in "$cache/${pkg}"_*.dsc; do
        [[ -f $f ]] || continue
        v=$(sed -n 's/^Version: *//p' "$f")
        [[ -z $pin || $v == "$pin" ]] || continue
        if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$bestv"; then
            best=$f bestv=$v
        fi
    done
    [[ -n $best ]] && printf '%s\n' "$best"
}

# --- apt's source index ------------------------------------------------------

# (grep reads to the end: with -q it could close the pipe early, and
# pipefail would then count apt-cache's SIGPIPE as a failure.)
apt_has_source() {
    apt-cache showsrc --only-source "$pkg" 2>/dev/null | grep -x "Package: $pkg" >/dev/null
}

# True when some apt source, in either format, has an enabled deb-src entry.
deb_src_enabled() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # One stanza per paragraph; enabled unless "Enabled: no".
        awk -v RS= -F '\n' '
            { t = ""; on = 1
              for (i = 1; i <= NF; i++) {
                  l = tolower($i)
                  if (l ~ /^types:/) t = " " substr(l, 7) " "
                  if (l ~ /^enabled:[[:space:]]*no/) on = 0
              }
              if (on && t ~ /[[:space:]]deb-src[[:space:]]/) hit = 1 }
            END { exit !hit }' "$f" && return 0
    done
    return 1
}

# Deb822 input: prints each enabled "Types: deb" stanza again as deb-src,
# keeping its other fields (comments dropped).
stanzas_as_src() {
    awk -v RS= -F '\n' '
        { out = ""; t = ""; on = 1; drop = 0
          for (i = 1; i <= NF; i++) {
              line = $i; l = tolower(line)
              if (line ~ /^#/) continue
              if (line ~ /^[[:space:]]/) { if (!drop) out = out line "\n"; continue }
              drop = 0
              if (l ~ /^types:/) { t = " " substr(l, 7) " "; drop = 1; continue }
              if (l ~ /^enabled:[[:space:]]*no/) on = 0
              out = out line "\n"
          }
          gsub(/\t/, " ", t)
          if (on && t ~ / deb /) printf "%sTypes: deb-src\n%s", (n++ ? "\n" : ""), out }' "$1"
}

add_deb_src() {
    local f lines="" stanzas=""
    (( EUID == 0 )) || die "apt has no deb-src entry and we are not root: enable
  deb-src for Debian's archive (then apt-get update), or run this as root"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f && $f != "$srcfile.list" ]] || continue
        lines+=$(sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f")$'\n'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f && $f != "$srcfile.sources" ]] || continue
        stanzas+=$(stanzas_as_src "$f")$'\n\n'
    done
    if [[ -n ${lines//[[:space:]]/} ]]; then
        { echo "# deb-src twins of this system's deb lines (host: third_party/*/fetch.sh)"
          printf '%s' "$lines"; } >"$srcfile.list"
        say "wrote $srcfile.list"
    fi
    if [[ -n ${stanzas//[[:space:]]/} ]]; then
        { echo "# deb-src twins of this system's Types: deb stanzas (host: third_party/*/fetch.sh)"
          echo
          printf '%s\n' "$(printf '%s' "$stanzas" | cat -s)"; } >"$srcfile.sources"
        say "wrote $srcfile.sources"
    fi
    [[ -f $srcfile.list || -f $srcfile.sources ]] \
        || die "no enabled deb entry in /etc/apt to derive a deb-src entry from"
}

refresh_index() {
    (( EUID == 0 )) || die "apt has no source index for $pkg: run 'apt-get update' as root"
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >&2 \
        || die "apt-get update failed (offline, and $cache has no $pkg source?)"
}

# The versions of the source package apt knows, newest first, without the
# newest (the one a plain request gets).
other_versions() {
    apt-cache showsrc --only-source "$pkg" 2>/dev/null \
        | sed -n 's/^Version: *//p' | sort -u -V -r | tail -n +2
}

download() {
    local tmp status=0
    command -v apt-get >/dev/null || die "no apt-get: put ${pkg}_*.dsc and its tarballs in $cache"
    if ! apt_has_source; then
        deb_src_enabled || add_deb_src
        refresh_index
        apt_has_source || die "apt knows no source package $pkg, even with deb-src enabled"
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/host-openssl-src.XXXXXX")
    if (( EUID == 0 )) && id _apt >/dev/null 2>&1; then
        chown _apt "$tmp"
    fi
    say "apt-get source --download-only $want"
    (cd "$tmp" && apt-get -q source --download-only "$want") >&2 || status=$?
    if (( status != 0 )) && [[ -z $pin ]]; then
        # A mirror can list a security update before it serves the files
        # (a 404 on the .dsc): try the next versions apt lists, newest first.
        local v
        for v in $(other_versions | head -n 3); do
            say "apt-get source failed (exit $status); trying $pkg=$v"
            rm -rf "${tmp:?}"/*
            status=0
            (cd "$tmp" && apt-get -q source --download-only "$pkg=$v") >&2 || status=$?
            (( status == 0 )) && break
        done
    fi
    if (( status != 0 )); then
        rm -rf "$tmp"
        die "apt-get source --download-only $want failed (exit $status)"
    fi
    chown -R "$(id -u):$(id -g)" "$tmp"
    mv -f "$tmp"/* "$cache"/
    rmdir "$tmp"
}

# One download at a time per cache (parallel configures).
exec 8>"$cache/.openssl-fetch.lock"
flock 8
dsc=$(pick_dsc || true)
if [[ -z $dsc ]]; then
    download
    dsc=$(pick_dsc || true)
    [[ -n $dsc ]] || die "the download left no ${pkg}_*.dsc in $cache"
fi
exec 8>&-

if [[ $1 == --dsc ]]; then
    printf '%s\n' "$dsc"
    exit 0
fi

# --- unpack ------------------------------------------------------------------
command -v dpkg-source >/dev/null || bash "$apt_ensure" dpkg-dev \
    || die "dpkg-source (package dpkg-dev) is needed to unpack Debian sources"
mkdir -p "$1" || die "cannot create $1"
dest=$(cd "$1" && pwd)
version=$(sed -n 's/^Version: *//p' "$dsc")
tree="$dest/$pkg-${version#*:}"
# Unpacked in a scratch directory first: dpkg-source also leaves copies of
# the tarballs beside the tree, and a half-unpacked tree must never stand
# where a finished one is expected.
work=$(mktemp -d "$dest/.unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "unpacking $(basename "$dsc")"
# dpkg-source always warns that it cannot check the uploader's signature
# (that needs debian-keyring); apt checked every file against the signed
# archive index when it downloaded them, so its log is shown only on failure.
if ! dpkg-source -x "$dsc" "$work/tree" >"$work/log" 2>&1; then
    cat "$work/log" >&2
    die "dpkg-source -x $dsc failed"
fi
[[ -f $work/tree/Configure && -f $work/tree/include/openssl/ssl.h.in ]] \
    || die "$dsc has no Configure or include/openssl/ssl.h.in: not OpenSSL 3?"
if [[ -s $work/tree/debian/patches/series && ! -s $work/tree/.pc/applied-patches ]]; then
    die "Debian's patches were not applied to $dsc"
fi
[[ -s $work/tree/.pc/applied-patches ]] \
    && say "Debian patches applied: $(wc -l <"$work/tree/.pc/applied-patches")"
rm -rf "$tree"
mv "$work/tree" "$tree"
printf '%s\n' "$tree"
