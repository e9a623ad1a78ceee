#!/usr/bin/env bash
# Batch stamping (issue 10): N documents of the demo kind (default 50) stamped through the use
# case with one login (SoftHSM2 token, ledger file, hub on loopback), documents per second, next
# to N whole-process `pdfsig -add-signature` runs on the same files: with the same token key
# (an NSS database with the SoftHSM2 module, made by the test) and with an RSA-2048 key in an
# NSS database (as stamp/bench.sh), and the ratios. Figures only, never asserted. Needs pdfsig,
# certutil, modutil, pk12util (libnss3-tools), openssl and softhsm2.
#   scripts/bench-batch.sh              # 50 documents
#   scripts/bench-batch.sh 100          # another count
#   scripts/bench-batch.sh 50 prof.out  # and a CPU profile of the whole test (go tool pprof)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
n=${1:-50}
prof=()
[ -n "${2:-}" ] && prof=(-cpuprofile "$2")
SEALKEEPER_BENCH=1 SEALKEEPER_BENCH_DOCS=$n go test ./app/usecase -run '^TestBenchBatch$' -count=1 -v -timeout 30m "${prof[@]}" 2>&1 |
  grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok\| INFO '
