#!/usr/bin/env bash
# Sets up what is missing and runs every check: formatting, vet, staticcheck, all Go tests (with
# the race detector on the packages without the GUI), and the real window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/setup.sh --test

staticcheck_version=v0.8.2
if ! staticcheck -version 2>/dev/null | grep -q "${staticcheck_version#v}"; then
  echo "test: installing staticcheck $staticcheck_version"
  go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi

echo "== gofmt"
unformatted=$(find . -name '*.go' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
staticcheck ./...

# The GUI packages link Fyne's cgo OpenGL code, which the race detector makes very slow; every
# other package runs under -race.
gui=$(go list -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' ./... | awk '/ fyne.io\/fyne\/v2/ {print $1}')
all=$(go list ./...)
nongui=$(comm -23 <(echo "$all" | sort) <(echo "$gui" | sort))

# Randomised tests note their seeds (and the flip test its phases) here; printed at the end.
mkdir -p build
export SEALKEEPER_SEED_LOG="$PWD/build/seeds.txt"
: > "$SEALKEEPER_SEED_LOG"

echo "== go test -race (packages without the GUI)"
# shellcheck disable=SC2086
go test -race -count=1 -timeout 30m $nongui

echo "== go test (GUI packages, Fyne's headless driver)"
# shellcheck disable=SC2086
go test -count=1 -timeout 30m $gui

echo "== seeds of the randomised tests (SEALKEEPER_SEED=N repeats one)"
cat "$SEALKEEPER_SEED_LOG"

echo "== the command-line program links no GUI libraries"
# It serves and scripts (hub, verify, ledger, stamp, token) on machines without X11 or OpenGL.
bash scripts/build.sh build --cli
if go list -deps ./app | grep -q '^fyne.io/'; then
  echo "./app imports Fyne: the command-line program must not (the window is ./app/sealkeeper-gui)"; exit 1
fi
gui_libs=$(ldd build/sealkeeper | grep -E 'lib(GL|EGL|GLX|X11|Xcursor|Xrandr|Xinerama|Xi|Xxf86vm|wayland-client|xkbcommon)\.' || true)
if [ -n "$gui_libs" ]; then
  echo "build/sealkeeper links GUI libraries:"; echo "$gui_libs"; exit 1
fi
env -u DISPLAY -u WAYLAND_DISPLAY build/sealkeeper help >/dev/null
echo "build/sealkeeper: $(ldd build/sealkeeper | wc -l) shared objects, none of them GUI"

echo "== the real window under Xvfb"
# It also logs in, stamps the first queue document through the window and checks the file.
LOGIN_SHOT=build/screenshot-login.png QUEUE_SHOTS=build bash scripts/screenshot.sh build/screenshot-test.png --check
