# Sourced by the scripts: a Go on PATH and the tools it installs.
export PATH="$PATH:/usr/local/go/bin"
export PATH="$PATH:$(go env GOPATH)/bin"
export CGO_ENABLED=1
