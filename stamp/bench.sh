#!/bin/sh
# Prints stamp+sign time next to poppler's pdfsig -add-signature on the same files with the same
# key type (RSA-2048, in an NSS database the test makes), and for a file over 100 MB the time
# against hashing it once. Needs pdfsig, certutil, pk12util (libnss3-tools) and openssl.
#   stamp/bench.sh            # median of 3 runs
#   SEALKEEPER_BENCH_RUNS=5 stamp/bench.sh
set -e
cd "$(dirname "$0")/.."
SEALKEEPER_BENCH=1 go test ./stamp -run '^TestBenchTable$' -count=1 -v -timeout 30m | grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok'
echo
echo "Go benchmarks (in memory, no file writes):"
go test ./stamp -run '^$' -bench BenchmarkStampSign -benchtime 3x -count=1 | grep -E '^Benchmark|ns/op'
