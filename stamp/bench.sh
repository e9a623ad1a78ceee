#!/bin/sh
# Prints stamp+sign time next to poppler's pdfsig -add-signature on the same files with the same
# key type (RSA-2048, in an NSS database the test makes), and for a file over 100 MB the time
# against hashing it once. Then whole processes: the sealkeeper CLI (built here from ./app)
# stamping with a SoftHSM2 demo workspace's key next to pdfsig -add-signature, one process per
# run, and `sealkeeper help` start-up alone. Figures only, never asserted. Needs pdfsig,
# certutil, pk12util (libnss3-tools), openssl and softhsm2.
#   stamp/bench.sh              # everything, median of 3 runs
#   SEALKEEPER_BENCH_RUNS=5 stamp/bench.sh
#   stamp/bench.sh inprocess    # the in-process table and the Go benchmarks only
#   stamp/bench.sh process      # the whole-process table only
set -e
cd "$(dirname "$0")/.."
case "${1:-all}" in
all) tests='^(TestBenchTable|TestBenchProcess)$' ;;
inprocess) tests='^TestBenchTable$' ;;
process) tests='^TestBenchProcess$' ;;
*) echo "usage: stamp/bench.sh [all|inprocess|process]" >&2; exit 2 ;;
esac
SEALKEEPER_BENCH=1 go test ./stamp -run "$tests" -count=1 -v -timeout 30m | grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok'
[ "${1:-all}" = process ] && exit 0
echo
echo "Go benchmarks (in memory, no file writes):"
go test ./stamp -run '^$' -bench BenchmarkStampSign -benchtime 3x -count=1 | grep -E '^Benchmark|ns/op'
