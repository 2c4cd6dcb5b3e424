#!/usr/bin/env bash
# check_format.sh [ROOT] -- every C file under src/ is as clang-format
# (with the repository's .clang-format) would write it.  Fix with
#   clang-format -i src/*/*.[ch] src/main.c
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root"
if ! command -v clang-format >/dev/null; then
    echo "clang-format not installed (apt-get install clang-format)"
    exit 77
fi
bad=0
for f in src/*/*.[ch] src/main.c; do
    if ! clang-format --dry-run --Werror "$f" 2>/dev/null; then
        echo "not formatted: $f"
        bad=1
    fi
done
if ((bad)); then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
