#!/usr/bin/env bash
# CI's package step: builds the Linux archive, smoke-tests the built app, prints its size.
# Takes about 5 minutes (most of it xz); needs the Qt runtime libraries from system-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash packaging/build-linux.sh
bash packaging/smoke-test.sh
archive=$(ls -t dist/minga-*-linux-*.tar.xz | head -1)
size=$(stat -c %s "$archive")
limit=$((45 * 1000 * 1000))
echo "package: $archive is $size bytes ($(( (size + 524287) / 1048576 )) MiB; goal under 45 MB); $(( $(date +%s) - start ))s"
if [ "$size" -ge "$limit" ]; then
  echo "package: over the 45 MB goal" >&2
  exit 1
fi
