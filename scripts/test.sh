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

echo "== go test -race (packages without the GUI)"
# shellcheck disable=SC2086
go test -race -count=1 -timeout 30m $nongui

echo "== go test (GUI packages, Fyne's headless driver)"
# shellcheck disable=SC2086
go test -count=1 -timeout 30m $gui

echo "== the real window under Xvfb"
bash scripts/screenshot.sh build/screenshot-test.png --check
