#!/usr/bin/env bash
# Builds SealKeeper's two programs into DIR (default: the repository root):
#   sealkeeper      the command the custodian types: every subcommand, no GUI libraries linked;
#                   with no command it starts the window program beside it
#   sealkeeper-gui  the window (Fyne)
#   libgmtoken.so   SealKeeper's own PKCS#11 module with SM2 keys (device/gmtoken), for the GM
#                   demo (sealkeeper demo provision --gm finds it beside sealkeeper)
#   scripts/build.sh [DIR] [--cli]     --cli: the command-line program only (a server or CI box)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
dir=${1:-.}
mkdir -p "$dir"
go build -o "$dir/sealkeeper" ./app
CGO_ENABLED=1 go build -buildmode=c-shared -o "$dir/libgmtoken.so" ./device/gmtoken
rm -f "$dir/libgmtoken.h" # the C header go writes beside it; nothing uses it
[ "${2:-}" = "--cli" ] || go build -o "$dir/sealkeeper-gui" ./app/sealkeeper-gui
