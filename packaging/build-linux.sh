#!/usr/bin/env bash
# Builds Minga's Linux one-folder app with PyInstaller and packs it as dist/minga-<version>-linux-<arch>.tar.xz.
# Reproducible: fixed epoch, hash seed, sorted tar entries, fixed owners and mtimes. Usage: build-linux.sh [--twice]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
BUILD=${MINGA_BUILD_DIR:-$ROOT/build/package}
DIST=${MINGA_DIST_DIR:-$ROOT/dist}
TWICE=0
[ "${1:-}" = "--twice" ] && TWICE=1

# Everything that can vary between two builds of one commit is pinned here.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH PYTHONHASHSEED=0 TZ=UTC LC_ALL=C.UTF-8
VERSION=$("$PY" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
ARCH=$(uname -m)
NAME=minga-$VERSION-linux-$ARCH

make --no-print-directory setup >/dev/null
mkdir -p "$ROOT/build"
# The packaging extra pins PyInstaller; pip is quick when it is already there.
if ! "$PY" -m pip install -q -e '.[package]' > "$ROOT/build/pip-package.log" 2>&1; then
  cat "$ROOT/build/pip-package.log" >&2
  exit 1
fi

build_once() {  # $1: work folder; leaves the app in $1/dist/minga
  local work=$1
  rm -rf "$work"
  mkdir -p "$work"
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath "$work/work" --distpath "$work/dist" packaging/minga.spec
  # PyInstaller leaves build-time mtimes; the archive must not depend on when it ran.
  find "$work/dist/minga" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

manifest() {  # path and sha256 of every file, sorted, relative to the app folder
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

start=$(date +%s)
build_once "$BUILD/a"
elapsed=$(( $(date +%s) - start ))

mkdir -p "$DIST"
ARCHIVE=$DIST/$NAME.tar.xz
rm -rf "$DIST/minga"
cp -a "$BUILD/a/dist/minga" "$DIST/minga"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --format=gnu \
    -C "$DIST" -cf - minga | xz -9e -T1 > "$ARCHIVE"
manifest "$DIST/minga" > "$DIST/$NAME.sha256sums"

if [ "$TWICE" = 1 ]; then
  build_once "$BUILD/b"
  manifest "$BUILD/b/dist/minga" > "$BUILD/b.sha256sums"
  if ! diff <(cut -c67- "$DIST/$NAME.sha256sums") <(cut -c67- "$BUILD/b.sha256sums") >/dev/null; then
    echo "NOT REPRODUCIBLE: the two builds hold different files" >&2
    diff <(cut -c67- "$DIST/$NAME.sha256sums") <(cut -c67- "$BUILD/b.sha256sums") >&2 || true
    exit 1
  fi
  differing=$(diff "$DIST/$NAME.sha256sums" "$BUILD/b.sha256sums" | grep -c '^<' || true)
  total=$(wc -l < "$DIST/$NAME.sha256sums")
  echo "reproducible: same $total files in both builds; $differing differ in bytes"
  diff "$DIST/$NAME.sha256sums" "$BUILD/b.sha256sums" | grep '^<' | cut -c69- | head -20 || true
fi

size=$(stat -c %s "$ARCHIVE")
echo "built $ARCHIVE in ${elapsed}s"
echo "archive size: $size bytes ($(( (size + 524287) / 1048576 )) MiB); unpacked: $(du -sh "$DIST/minga" | cut -f1)"
