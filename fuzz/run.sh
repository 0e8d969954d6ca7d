#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and prints the executions
# per target. Not part of tests/run.sh: fuzzing needs nightly compiler flags.
#
#   ./fuzz/run.sh                 # 120 s per target
#   FUZZ_SECONDS=600 ./fuzz/run.sh access_token
#
# A crash leaves its input in fuzz/artifacts/<target>/; copy it to
# fuzz/regressions/<target>/ (replayed at the start of every run) and add
# the case to a unit test beside the code it broke, so the normal test
# command keeps it fixed (README, "Security and reliability suites").
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd .. && pwd)"
seconds="${FUZZ_SECONDS:-120}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(webhook_signatures multipart_form access_token json_bodies)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
# cargo-fuzz passes -Z flags: use nightly where installed, otherwise let the
# stable compiler accept them.
toolchain=()
if rustc +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

summary=()
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  if [ -d "seeds/$target" ]; then cp -n "seeds/$target"/* "$corpus"/ 2>/dev/null || true; fi
  if [ -d "regressions/$target" ]; then cp -n "regressions/$target"/* "$corpus"/ 2>/dev/null || true; fi
  log="artifacts/$target/last-run.log"
  echo "== $target: ${seconds}s"
  status=0
  cargo "${toolchain[@]}" fuzz run --debug-assertions --target-dir "$root/target/fuzz" "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=$?
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1 || true)
  if [ -z "$runs" ]; then
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | grep -oE '[0-9]+' | tail -1 || true)
  fi
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  if [ "$status" -ne 0 ]; then
    summary+=("$target: FAILED (exit $status) after ${runs:-?} executions; see fuzz/$log and fuzz/artifacts/$target/")
  else
    summary+=("$target: ${runs:-?} executions in ${seconds}s, coverage ${cov:-?} edges, no crash")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if printf '%s\n' "${summary[@]}" | grep -q FAILED; then exit 1; fi
