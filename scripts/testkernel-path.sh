#!/usr/bin/env bash
# Build or reuse the cached test kernel and record its tree path in $1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tree=$("$here/ktests/build-test-kernel.sh" | tail -n 1)
tmp="$1.tmp"
echo "$tree" >"$tmp"
mv "$tmp" "$1"
