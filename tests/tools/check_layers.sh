#!/usr/bin/env bash
# check_layers.sh [ROOT] -- the floors of the source tree depend one way:
#
#   src/util  <-  src/io  <-  src/host  <-  src/lua  <-  src/main.c
#
# (and src/proto, src/shared, src/tls beside io: they see util only).  A
# file may include headers of its own floor and the floors below, never
# above; only src/lua (and main.c) may include Lua's headers.  The build
# enforces this too (each floor is a library that sees only the include
# directories below it); this check names the offending line.
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root"

bad=0
headers_of() { # FOLDER -> the header names it owns
    find "src/$1" -maxdepth 1 -name '*.h' -printf '%f\n' 2>/dev/null
}
forbid() { # FOLDER FLOOR... : FOLDER's files may not include FLOOR's headers
    local folder=$1 floor h
    shift
    for floor in "$@"; do
        for h in $(headers_of "$floor"); do
            if grep -n "#include \"$h\"" "src/$folder"/*.[ch] 2>/dev/null; then
                echo "  ^ src/$folder includes src/$floor/$h (a floor above it)"
                bad=1
            fi
        done
    done
}
lua_headers() { # FOLDER : no Lua headers
    if grep -nE '#include <(lua|lauxlib|lualib|luaconf)\.h>' "src/$1"/*.[ch] 2>/dev/null; then
        echo "  ^ src/$1 includes Lua's headers (only src/lua may)"
        bad=1
    fi
}

forbid util io host lua proto shared tls
forbid io host lua proto shared tls
forbid proto io host lua shared tls
forbid shared io host lua proto tls
forbid tls io host lua proto shared
forbid host lua
for f in util io host proto shared tls; do
    [ -d "src/$f" ] && lua_headers "$f"
done
if ((bad)); then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "layers: every include points down"
echo "1 passed, 0 failed"
