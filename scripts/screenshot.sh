#!/usr/bin/env bash
# Starts the real program under Xvfb on a fresh demo workspace and saves a PNG of the screen.
# System fonts are hidden from it, so the Chinese in the picture comes from the embedded font,
# as it would on a workstation with no CJK font of its own.
#   scripts/screenshot.sh [OUT.png] [--check]
# With FRAME_GAPS=1 the program reports the longest pause between two frames from the moment its
# screens are ready, printed at the end: over the whole session, while the key signs, and while a
# sync round runs.
# --check fails unless the window is titled "SealKeeper … 演示/DEMO" and the picture has content.
# With LOGIN_SHOT=OUT2.png it then clicks the login button (found by its colour), types the demo
# PIN and saves the logged-in screen too. With QUEUE_SHOTS=DIR as well it then opens the queue,
# selects the first document, stamps it through the confirmation, and saves each screen
# (DIR/screenshot-queue.png, -placing.png, -preview.png, -confirm.png, -stamped.png, -ledger.png, -settings.png, -handover.png, -return.png).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
out=${1:-docs/screenshot.png}
check=${2:-}
mkdir -p "$(dirname "$out")" build
bash scripts/build.sh build

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$tmp/nofonts" "$tmp/fccache"
cat > "$tmp/fonts.conf" <<XML
<?xml version="1.0"?>
<fontconfig><dir>$tmp/nofonts</dir><cachedir>$tmp/fccache</cachedir></fontconfig>
XML

display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done

HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" \
FONTCONFIG_FILE="$tmp/fonts.conf" DISPLAY="$display" LANG="${SCREENSHOT_LANG:-zh_CN.UTF-8}" \
SEALKEEPER_START_NS=$(date +%s%N) SEALKEEPER_FRAME_GAPS=${FRAME_GAPS:-} \
  build/sealkeeper >"$tmp/app.log" 2>&1 &
pids+=($!)

if ! wid=$(DISPLAY="$display" timeout 90 xdotool search --sync --onlyvisible --name SealKeeper 2>/dev/null | head -1) || [ -z "$wid" ]; then
  echo "screenshot: no SealKeeper window appeared in 90 s; the program said:" >&2
  cat "$tmp/app.log" >&2
  exit 1
fi
# The window opens with a splash and builds its screens once the workspace is open; the program
# says when (SEALKEEPER_START_NS makes it report its start-up).
for _ in $(seq 900); do grep -q 'start-trace ready' "$tmp/app.log" && break; sleep 0.1; done
grep -q 'start-trace ready' "$tmp/app.log" || { echo "screenshot: the screens were not ready in 90 s; the program said:" >&2; cat "$tmp/app.log" >&2; exit 1; }
grep 'start-trace' "$tmp/app.log" | sed 's/^/screenshot: /'
sleep 2 # let the key poll settle
name=$(DISPLAY="$display" xdotool getwindowname "$wid")
DISPLAY="$display" xdotool windowmove "$wid" 0 0 windowsize "$wid" 1100 720 || true
sleep 1
DISPLAY="$display" import -window root -crop 1100x720+0+0 +repage "$out"
echo "screenshot: window \"$name\" saved to $out"

if [ "$check" = "--check" ]; then
  case "$name" in
    *SealKeeper*演示*|*SealKeeper*DEMO*) ;;
    *) echo "screenshot: window title \"$name\" lacks SealKeeper and the demo badge" >&2; exit 1 ;;
  esac
  sd=$(convert "$out" -colorspace Gray -format '%[fx:standard_deviation]' info:)
  awk -v sd="$sd" 'BEGIN { exit !(sd > 0.05) }' || { echo "screenshot: the window looks blank (sd $sd)" >&2; exit 1; }
  # The seal icon on the key screen is seal red; its presence shows images render.
  red=$(convert "$out" -fx 'r>0.8 && g<0.15 && b<0.2' -format '%[fx:mean]' info:)
  awk -v r="$red" 'BEGIN { exit !(r > 0.001) }' || { echo "screenshot: no seal-red pixels: the key screen did not draw" >&2; exit 1; }
  echo "screenshot: check passed (title, content sd $sd, red share $red)"
fi

if [ -n "${LOGIN_SHOT:-}" ]; then
  # The login button is the only primary-blue area below the tabs.
  read -r bw bh bx by < <(convert "$out" -crop 1100x520+0+120 +repage -fuzz 6% -fill white +opaque 'srgb(41,111,246)' \
    -fill black -opaque 'srgb(41,111,246)' -negate -trim -format '%w %h %X %Y\n' info:)
  DISPLAY="$display" xdotool mousemove $((bx + bw / 2)) $((120 + by + bh / 2)) click 1
  sleep 1
  DISPLAY="$display" xdotool type --delay 50 "$(cat "$tmp/home/.local/share/sealkeeper/demo/demo-pin")"
  DISPLAY="$display" xdotool key Return
  sleep 2
  DISPLAY="$display" import -window root -crop 1100x720+0+0 +repage "$LOGIN_SHOT"
  echo "screenshot: logged-in window saved to $LOGIN_SHOT"
fi

# click_blue SHOT X Y W H: clicks the middle of the primary-blue area inside that part of the screen.
click_blue() {
  local bw bh bx by
  read -r bw bh bx by < <(convert "$1" -crop "${4}x${5}+${2}+${3}" +repage -fuzz 6% -fill white +opaque 'srgb(41,111,246)' \
    -fill black -opaque 'srgb(41,111,246)' -negate -trim -format '%w %h %X %Y\n' info:)
  DISPLAY="$display" xdotool mousemove $(($2 + bx + bw / 2)) $(($3 + by + bh / 2)) click 1
}
shot() { DISPLAY="$display" import -window root -crop 1100x720+0+0 +repage "$1"; echo "screenshot: $2 saved to $1"; }

if [ -n "${LOGIN_SHOT:-}" ] && [ -n "${QUEUE_SHOTS:-}" ]; then
  mkdir -p "$QUEUE_SHOTS"
  # The second tab (documents to stamp), then the first document in the list (below the search). The layout is
  # fixed: 1100x720, the embedded font, no system fonts.
  DISPLAY="$display" xdotool mousemove 122 63 click 1
  sleep 1
  DISPLAY="$display" xdotool mousemove 150 144 click 1
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-queue.png" "the queue"
  click_blue "$QUEUE_SHOTS/screenshot-queue.png" 445 120 655 540 # Place seal, in the details pane
  sleep 4 # the page is drawn (PDFium, warmed up after the first frame)
  # The seal follows the pointer over the page (it snaps to the centre line here) ...
  DISPLAY="$display" xdotool mousemove 600 470
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-placing.png" "the seal on the pointer"
  # ... and a click drops it.
  DISPLAY="$display" xdotool click 1
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-preview.png" "the placed seal"
  DISPLAY="$display" xdotool key ctrl+Return
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-confirm.png" "the confirmation"
  DISPLAY="$display" xdotool key space # the dialog's Stamp button has the focus
  sleep 4
  shot "$QUEUE_SHOTS/screenshot-stamped.png" "the result"
  # The ledger tab (third), with the stamping's records.
  DISPLAY="$display" xdotool mousemove 192 63 click 1
  sleep 2
  shot "$QUEUE_SHOTS/screenshot-ledger.png" "the ledger"
  DISPLAY="$display" xdotool mousemove 240 63 click 1 # settings, the fourth tab
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-settings.png" "the settings"
  DISPLAY="$display" xdotool mousemove 288 63 click 1 # handover (交接), the fifth tab
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-handover.png" "the handover screen"
  # Ctrl+N: back to the queue and its next document; Ctrl+R opens the return dialog.
  DISPLAY="$display" xdotool key ctrl+n
  sleep 1
  DISPLAY="$display" xdotool key ctrl+r
  sleep 1
  shot "$QUEUE_SHOTS/screenshot-return.png" "the return dialog"
  stamped=$(find "$tmp/home/.local/share/sealkeeper/demo/data/stamped" -name '*.pdf' | head -1)
  [ -n "$stamped" ] || { echo "screenshot: the window wrote no stamped file" >&2; cat "$tmp/app.log" >&2; exit 1; }
  build/sealkeeper verify "$stamped" >/dev/null || { echo "screenshot: $stamped does not verify" >&2; exit 1; }
  echo "screenshot: the window stamped $(basename "$stamped"), and it verifies"
fi
if [ -n "${FRAME_GAPS:-}" ]; then
  # The program reports each new longest gap per activity: "any" (the whole session, tab
  # switches and screen builds too), "signing" (the key at work) and "syncing" (a sync round).
  for during in any signing syncing; do
    gap=$(awk -v d="$during" '$1 == "frame-gap" && $2 == d {g=$3} END {print g}' "$tmp/app.log")
    echo "screenshot: longest frame gap after the screens were ready, $during: ${gap:-none seen} ms"
  done
fi
