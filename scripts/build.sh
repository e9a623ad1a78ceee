#!/usr/bin/env bash
# Builds SealKeeper's two programs into DIR (default: the repository root):
#   sealkeeper      the command the custodian types: every subcommand, no GUI libraries linked;
#                   with no command it starts the window program beside it
#   sealkeeper-gui  the window (Fyne)
#   scripts/build.sh [DIR] [--cli]     --cli: the command-line program only (a server or CI box)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
dir=${1:-.}
mkdir -p "$dir"
go build -o "$dir/sealkeeper" ./app
[ "${2:-}" = "--cli" ] || go build -o "$dir/sealkeeper-gui" ./app/sealkeeper-gui
