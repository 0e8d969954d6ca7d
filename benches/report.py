#!/usr/bin/env python3
"""Renders BENCHMARKS.md from the harness and in-memory results, with the
machine, the date, the budgets and the cost per million requests.
Usage: report.py HARNESS.json MEMORY.json  (prints Markdown)
"""

import datetime
import json
import os
import platform
import subprocess
import sys

# Budgets (issue 8), on this machine, release build.
INIT_BUDGET_MS = {"flags": 10.0}
INIT_BUDGET_DEFAULT_MS = 25.0
WARM_P99_BUDGET_US = {"flags": 100.0}
WARM_P99_DEFAULT_US = 1000.0
ZIP_BUDGET_MIB = 8.0

# Prices (us-east-1, on-demand, arm64), USD.
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION = 0.20
DDB_READ_UNIT_PER_MILLION = 0.125
DDB_WRITE_UNIT_PER_MILLION = 0.625
SQS_PER_MILLION = 0.40
SES_PER_MILLION = 100.0
S3_PUT_PER_MILLION = 5.0
# Configured memory (infra/template.yaml).
MEMORY_MB = {"login": 1024}
MEMORY_DEFAULT_MB = 256

READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


def sh(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine():
    cpu = "?"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    if os.path.exists("/proc/meminfo"):
        mem_kib = int(open("/proc/meminfo").readline().split()[1])
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kib / 1048576:.0f} GiB, "
            f"{platform.system()} {platform.release()}; {sh('rustc', '--version')}; "
            f"commit {sh('git', 'rev-parse', '--short', 'HEAD')}")


def request_units(calls):
    """(read units, write units) for one request, from the stand-in's counts.
    Assumed: items under 1 KB; a read call 1 RRU (strongly consistent, one
    item); a single write 1 WRU; a transaction 2 WRU per item, 3 items."""
    reads = writes = 0
    for key, count in calls.items():
        if not key.startswith("dynamodb:"):
            continue
        op = key.split(":", 1)[1]
        if op in READS:
            reads += count
        elif op == "TransactWriteItems":
            writes += 6 * count
        else:
            writes += count
    return reads, writes


def cost_per_million(function, route):
    memory_gb = MEMORY_MB.get(function, MEMORY_DEFAULT_MB) / 1024
    billed_ms = max(1, round(route["p50_ms"] + 0.4999))
    lambda_cost = LAMBDA_PER_MILLION + memory_gb * billed_ms / 1000 * LAMBDA_GB_SECOND * 1e6
    reads, writes = request_units(route["calls"])
    dynamo = reads * DDB_READ_UNIT_PER_MILLION + writes * DDB_WRITE_UNIT_PER_MILLION
    other = (route["calls"].get("sqs", 0) * SQS_PER_MILLION
             + route["calls"].get("ses", 0) * SES_PER_MILLION
             + route["calls"].get("s3", 0) * S3_PUT_PER_MILLION)
    return lambda_cost, dynamo, other


def calls_text(calls):
    by_service = {}
    for key, count in calls.items():
        service = key.split(":", 1)[0]
        by_service[service] = by_service.get(service, 0) + count
    return ", ".join(f"{s} {n}" for s, n in sorted(by_service.items())) or "none"


def mark(ok):
    return "yes" if ok else "**no**"


def main():
    harness = json.load(open(sys.argv[1]))
    memory = json.load(open(sys.argv[2]))
    sizes = open(".local/bench-sizes.md").read() if os.path.exists(".local/bench-sizes.md") else ""
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(f"Written by `./benches/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.")
    w(f"Machine: {machine()}.")
    w("")
    w("Release builds (native) of each function run under `benches/harness.py`, a local")
    w("Lambda Runtime API, against the local AWS stand-in (moto, one request at a time,")
    w("which also counts requests per service). The in-memory figures come from")
    w("`bench/src/bin/warm.rs`, which runs every handler in process on the in-memory ports.")
    w("")
    w("## Cold start")
    w("")
    starts = harness[0].get("cold_starts", "")
    w(f"Process start → first `invocation/next` (init, SDK clients and configuration included) and → first response, over {starts} starts.")
    w("")
    w("| function | init median | init max | first response median | first response max | init budget | within |")
    w("|---|---|---|---|---|---|---|")
    for f in harness:
        budget = INIT_BUDGET_MS.get(f["function"], INIT_BUDGET_DEFAULT_MS)
        w(f"| {f['function']} | {f['init_ms']['median']:.1f} ms | {f['init_ms']['max']:.1f} ms | "
          f"{f['first_invoke_ms']['median']:.1f} ms | {f['first_invoke_ms']['max']:.1f} ms | "
          f"{budget:.0f} ms | {mark(f['init_ms']['median'] <= budget)} |")
    w("")
    w("## Warm handler time, in-memory ports (in process)")
    w("")
    w("| function | route | runs | p50 | p99 | p99 budget | within |")
    w("|---|---|---|---|---|---|---|")
    for r in memory:
        hashing = "argon2id" in r["route"]
        budget = WARM_P99_BUDGET_US.get(r["function"], WARM_P99_DEFAULT_US)
        within = "exempt (password hashing)" if hashing else mark(r["p99_us"] <= budget)
        w(f"| {r['function']} | {r['route']} | {r['runs']} | {r['p50_us']:.1f} µs | {r['p99_us']:.1f} µs | "
          f"{'-' if hashing else f'{budget:.0f} µs'} | {within} |")
    w("")
    w("## Warm handler time on the stand-in, round trips and cost")
    w("")
    w("Event handed out → response posted, through the runtime API, each call a round trip")
    w("to moto on loopback (so these are upper bounds of the function's own work). Cost per")
    w("million requests: Lambda (requests + GB-seconds at the configured memory, billed at the")
    w("stand-in p50), DynamoDB request units (assumptions in `benches/report.py`), and SQS,")
    w("SES and S3 requests.")
    w("")
    w("| function | route | status | p50 | p99 | calls per request | Lambda $/M | DynamoDB $/M | other $/M |")
    w("|---|---|---|---|---|---|---|---|---|")
    for f in harness:
        for r in f["routes"]:
            lam, ddb, other = cost_per_million(f["function"], r)
            w(f"| {f['function']} | {r['route']} | {r['status'] if r['status'] is not None else '-'} | "
              f"{r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {calls_text(r['calls'])} | "
              f"{lam:.2f} | {ddb:.2f} | {other:.2f} |")
    w("")
    w("## Round-trip budgets")
    w("")
    budgets = [
        ("login", "POST /v1/auth/login", "dynamodb", 3, "successful login ≤ 3 DynamoDB calls"),
        ("login", "POST /v1/auth/refresh", "dynamodb", 2, "refresh ≤ 2"),
        ("flags", "GET /v1/flags", "dynamodb", 0, "flags warm 0 (cold 1: the snapshot read)"),
        ("recharge", "POST /v1/wallet/recharge", "dynamodb", 5, "allowed recharge ≤ 5"),
        ("webhook", "POST /v1/webhooks/stripe", "dynamodb", 1, "webhook ingest ≤ 1 plus one SQS send"),
        ("webhook-worker", "SQS payment_succeeded (credit)", "dynamodb:TransactWriteItems", 1, "credit = one transaction"),
    ]
    w("| budget | measured | within |")
    w("|---|---|---|")
    index = {(f["function"], r["route"]): r for f in harness for r in f["routes"]}
    for function, route, key, limit, text in budgets:
        r = index.get((function, route))
        if r is None:
            w(f"| {text} | not measured | **no** |")
            continue
        if ":" in key:
            got = r["calls"].get(key, 0)
            ok = got == limit
        else:
            got = sum(n for k, n in r["calls"].items() if k.split(":", 1)[0] == key)
            ok = got <= limit
        extra = f", sqs {r['calls'].get('sqs', 0)}" if function == "webhook" else ""
        if function == "webhook":
            ok = ok and r["calls"].get("sqs", 0) == 1
        w(f"| {text} | {key} {got}{extra} ({calls_text(r['calls'])}) | {mark(ok)} |")
    w("")
    w("## Peak memory")
    w("")
    w("Peak RSS (VmHWM) of each function process after its warm runs on the stand-in; the")
    w("heaviest single request measured separately is a 5 MiB KYC upload:")
    w("`cargo run --release -p kyc-upload --example peak_memory`.")
    w("")
    w("| function | peak RSS | configured memory |")
    w("|---|---|---|")
    for f in harness:
        w(f"| {f['function']} | {f['peak_rss_mib']:.1f} MiB | {MEMORY_MB.get(f['function'], MEMORY_DEFAULT_MB)} MB |")
    w("")
    w("## Size")
    w("")
    w(f"Lambda artefacts (`./infra/build_lambdas.sh`: arm64, release, fat LTO, `opt-level = \"s\"`, stripped); budget {ZIP_BUDGET_MIB:.0f} MiB per zip.")
    w("")
    w(sizes.strip() or "(not built)")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
