#!/usr/bin/env bash
# Program start to first frame: starts the real binary under Xvfb N times (default 5) on a demo
# workspace made once beforehand, and prints how long each took until its window was mapped and
# drawn. Figures, not a pass/fail test: a slow machine is not a failure.
#   scripts/bench-start.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
n=${1:-5}
mkdir -p build
bash scripts/build.sh build
tmp=$(mktemp -d)
xpid=
cleanup() { [ -n "$xpid" ] && kill "$xpid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp" 2>/dev/null || true; }
trap cleanup EXIT
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share"
build/sealkeeper demo provision --dir "$XDG_DATA_HOME/sealkeeper/demo" >/dev/null
display=:$((200 + RANDOM % 100))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xpid=$!
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
export DISPLAY=$display
printf '%-4s %s\n' run "start to first frame (ms)"
for i in $(seq "$n"); do
  t0=$(date +%s%N)
  build/sealkeeper >/dev/null 2>&1 &
  pid=$!
  xdotool search --sync --onlyvisible --name SealKeeper >/dev/null
  t1=$(date +%s%N)
  printf '%-4s %d\n' "$i" $(( (t1 - t0) / 1000000 ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
