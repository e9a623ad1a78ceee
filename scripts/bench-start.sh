#!/usr/bin/env bash
# Program start to first frame: starts the real binary under Xvfb N times (default 5) on a demo
# workspace made once beforehand, and prints how long each took until its first frame was drawn
# and until its screens were ready. Figures, not a pass/fail test: a slow machine is not a failure.
#   scripts/bench-start.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
n=${1:-5}
# GUI=1 starts the window program itself, as the desktop entry does; by default `sealkeeper`,
# which execs it (about 30 ms more).
bin=build/sealkeeper
[ -n "${GUI:-}" ] && bin=build/sealkeeper-gui
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
# The program reports its own moments (SEALKEEPER_START_NS: when this script started it): the first
# frame drawn (the raster of the splash painted) and the screens ready. Polling the X server from
# here would measure the X server's connection time (hundreds of ms under a loaded Xvfb) instead.
printf '%-4s %18s %18s\n' run "first frame (ms)" "screens ready (ms)"
for i in $(seq "$n"); do
  out="$tmp/run$i.txt"
  SEALKEEPER_START_NS=$(date +%s%N) "$bin" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q 'start-trace ready' "$out" && break; sleep 0.05; done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  ff=$(awk '/start-trace first-frame/ {print $3}' "$out")
  rd=$(awk '/start-trace ready/ {print $3}' "$out")
  printf '%-4s %18s %18s\n' "$i" "${ff:-?}" "${rd:-?}"
done
