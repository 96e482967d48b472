#!/usr/bin/env bash
# Smoke test of the built Linux archive: unpacks it, runs `minga --self-test` with no Python on
# PATH, then starts the real window offscreen for a few seconds. Usage: smoke-test.sh [ARCHIVE]
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=${1:-$(ls -t dist/minga-*-linux-*.tar.xz 2>/dev/null | head -1)}
[ -n "$ARCHIVE" ] && [ -f "$ARCHIVE" ] || { echo "no archive: run packaging/build-linux.sh" >&2; exit 1; }
ARCHIVE=$(realpath "$ARCHIVE")
SCRATCH=$(mktemp -d -t minga-smoke-XXXXXX)
app_pid=
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then kill -KILL "$app_pid" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

tar -C "$SCRATCH" -xJf "$ARCHIVE"
APP=$SCRATCH/minga/minga
# The interpreter, the venv and the source tree must not be what makes the app work: a bare
# PATH, a fresh HOME, no PYTHON* variables, and a working directory away from the checkout.
run_bare() {
  (cd "$SCRATCH" && env -i PATH=/usr/bin/nonexistent HOME="$SCRATCH/home" LANG=C.UTF-8 \
     QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$SCRATCH/runtime" "$@")
}
mkdir -p "$SCRATCH/home" "$SCRATCH/runtime"
chmod 700 "$SCRATCH/runtime"

echo "smoke: self-test (create a profile, unlock it, save and read a record)"
out=$(run_bare "$APP" --self-test "$SCRATCH/profile" 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out"
[ "$(echo "$out" | tail -1)" = "OK" ] || { echo "self-test did not print OK" >&2; exit 1; }
for file in profile.json minga.db; do
  [ -s "$SCRATCH/profile/$file" ] || { echo "self-test left no $file" >&2; exit 1; }
done

echo "smoke: the window starts offscreen and quits cleanly on SIGTERM"
log=$SCRATCH/window.log
(cd "$SCRATCH" && exec env -i PATH=/usr/bin/nonexistent HOME="$SCRATCH/home" LANG=C.UTF-8 \
   QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$SCRATCH/runtime" \
   "$APP" --profile-dir "$SCRATCH/window-profile" --language ar) > "$log" 2>&1 &
app_pid=$!
for _ in $(seq 1 60); do
  grep -q "started in" "$log" && break
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q "started in ar" "$log"; then
  echo "the window did not start:" >&2; cat "$log" >&2; exit 1
fi
kill -TERM "$app_pid"
status=0
wait "$app_pid" || status=$?
app_pid=
if [ "$status" -ne 0 ] || grep -qiE "Traceback|could not load|Could not find the Qt platform" "$log"; then
  echo "the window did not end cleanly (exit $status):" >&2; cat "$log" >&2; exit 1
fi
echo "smoke: OK ($(basename "$ARCHIVE"), $(stat -c %s "$ARCHIVE") bytes)"
