#!/usr/bin/env bash
# Measures every function and writes BENCHMARKS.md: cold start and warm
# latency of the release binaries under a local Lambda Runtime API against
# the local AWS stand-in, round trips per route, peak memory, binary and zip
# sizes, in-process warm latency on the in-memory ports, and the cost per
# million requests that follows. Uses its own stand-in port (4570).
# Usage: ./benches/run.sh    (BENCH_COLD_STARTS, BENCH_WARM_RUNS to change counts)
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/local/install.sh
source infra/local/env.sh "${BENCH_MOTO_PORT:-4570}"
cleanup() { [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null || true; }
trap cleanup EXIT
source infra/local/moto.sh > /dev/null

functions=$(ls functions)
echo "== release build (native)"
cargo build --release --quiet $(for f in $functions; do printf -- '-p %s ' "$f"; done) -p bench
echo "== Lambda artefacts (arm64 zips)"
./infra/build_lambdas.sh > .local/bench-sizes.md
echo "== in-process warm latency, in-memory ports"
target/release/warm > .local/bench-memory.json
echo "== runtime-API harness on the stand-in"
python3 benches/harness.py .local/bench-harness.json
python3 benches/report.py .local/bench-harness.json .local/bench-memory.json > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
