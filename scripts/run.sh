#!/usr/bin/env bash
# Sets up what is missing, builds SealKeeper and opens its window. With nothing configured it
# makes and opens a demo workspace (a SoftHSM token with a demo seal). Arguments go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/setup.sh
echo "run: building sealkeeper and sealkeeper-gui (the first build of the GUI takes about 5 minutes)"
bash scripts/build.sh .
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display. Start this from a desktop session, or under a virtual one:" >&2
  echo "  xvfb-run -a ./sealkeeper" >&2
  exit 1
fi
exec ./sealkeeper "$@"
