#!/usr/bin/env bash
# Installs what SealKeeper needs on Debian 12 and nothing else. Safe to run again: it installs
# only what is missing. As a normal user it prints the exact apt line and stops.
set -euo pipefail

# Build: cgo for Fyne (OpenGL, X11), gousb (libusb), PKCS#11 (dlopen).
build_pkgs="gcc pkg-config libgl1-mesa-dev xorg-dev libusb-1.0-0-dev"
# Run: the demo token (SoftHSM2) and the PKCS#11 tool for looking at tokens.
run_pkgs="softhsm2 opensc"
# Test: outside PDF validators, NSS tools for pdfsig signing, a display for window screenshots.
# Printing tests: a real CUPS scheduler (cupsd, lpadmin) and zbarimg to read the printed QR codes.
test_pkgs="poppler-utils mupdf-tools qpdf libnss3-tools openssl xvfb xdotool imagemagick x11-utils cups-daemon cups-client zbar-tools"

# Release (scripts/release.sh): the arm64 and Windows cross compilers with the arm64 libraries
# to link against (multiarch), the .deb tools, lintian, and mmdebstrap for the package test
# (qemu-user-static, binfmt-support and arch-test for its arm64 root).
release_pkgs="dpkg-dev fakeroot zip file lintian mmdebstrap gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  libgl-dev:arm64 libx11-dev:arm64 libxrandr-dev:arm64 libxcursor-dev:arm64 libxinerama-dev:arm64
  libxi-dev:arm64 libxxf86vm-dev:arm64 libxext-dev:arm64 libusb-1.0-0-dev:arm64 gcc-mingw-w64-x86-64 wine64
  qemu-user-static binfmt-support arch-test"

want="$build_pkgs $run_pkgs"
case "${1:-}" in
--test) want="$want $test_pkgs" ;;
--release) want="$want $release_pkgs" ;;
esac

missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "SealKeeper needs these Debian packages, and installing them needs root. Run:" >&2
    [[ " ${missing[*]}" != *:arm64* ]] || echo "  sudo dpkg --add-architecture arm64" >&2
    echo "  sudo apt-get update && sudo $line" >&2
    echo "then run this command again." >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ " ${missing[*]}" == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update -qq
  # shellcheck disable=SC2086
  $line -qq >/dev/null
fi

# The printing tests need cupsd answering. Without systemd (CI, containers) nothing starts it:
# start it here (it puts itself in the background). The tests make their own queues.
if [ "${1:-}" = "--test" ] && [ "$(id -u)" -eq 0 ] && ! lpstat -r 2>/dev/null | grep -q "is running"; then
  echo "setup: starting the CUPS scheduler (cupsd)"
  mkdir -p /run/cups
  /usr/sbin/cupsd
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    lpstat -r 2>/dev/null | grep -q "is running" && break
    sleep 0.5
  done
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "setup: Go is at /usr/local/go/bin; add it to PATH" >&2
  else
    echo "setup: Go 1.26 or newer is needed (https://go.dev/dl/ or your distribution's golang package)" >&2
  fi
  exit 1
fi
