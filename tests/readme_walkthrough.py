#!/usr/bin/env python3
"""Runs the README's curl walk-through as written and checks what it prints.

The walk-through is the ```bash block after the line
`<!-- walkthrough -->` in README.md. It runs with BASE set to the given URL
once the function answers; every step must succeed, `me` must name the
account, and reusing the rotated refresh token must be refused.
Usage: readme_walkthrough.py README.md BASE_URL [--email ADDRESS]
With --email the block runs for that address instead of the README's
alice@example.com (a throwaway account, so the walk-through can run again
against the same stack: infra/smoke.sh).
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request


def walkthrough_block(readme):
    text = open(readme).read()
    match = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```", text, re.S)
    if not match:
        sys.exit("README.md has no walk-through block")
    return match.group(1)


def wait_until_serving(base, seconds=600):
    """cargo lambda watch compiles the function on first use: poll until it answers."""
    deadline = time.time() + seconds
    watcher = os.environ.get("WATCH_PID")
    while time.time() < deadline:
        if watcher:
            try:
                os.kill(int(watcher), 0)
            except OSError:
                sys.exit("cargo lambda watch exited before serving")
        request = urllib.request.Request(base + "/me", headers={"X-Device-Id": "probe-0001"})
        try:
            urllib.request.urlopen(request, timeout=120)
            return
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    sys.exit("the login function did not start under cargo lambda watch")


README_EMAIL = "alice@example.com"


def main():
    args = sys.argv[1:]
    email = README_EMAIL
    if len(args) == 4 and args[2] == "--email":
        email = args[3]
        args = args[:2]
    if len(args) != 2:
        sys.exit("usage: readme_walkthrough.py README.md BASE_URL [--email ADDRESS]")
    readme, base = args
    script = walkthrough_block(readme)
    if README_EMAIL not in script:
        sys.exit(f"the walk-through no longer uses {README_EMAIL}")
    script = script.replace(README_EMAIL, email)
    wait_until_serving(base)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={**os.environ, "BASE": base},
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        sys.exit(f"walk-through failed with exit code {result.returncode}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    replies = [json.loads(line) for line in lines]
    checks = {
        "register accepted": any(r.get("status") == "accepted" for r in replies),
        "me names the account": any(r.get("email") == email for r in replies),
        "documents submitted": any(
            r.get("status") == "pending" and "submission_id" in r and "documents" in r
            for r in replies
        ),
        "kyc status pending": any(
            r.get("status") == "pending" and r.get("can_submit") is False for r in replies
        ),
        "refresh rotated": sum("refresh_token" in r for r in replies) >= 1,
        "reuse refused": any(
            r.get("error", {}).get("code") == "REFRESH_TOKEN_REUSED" for r in replies
        ),
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        sys.exit("walk-through checks failed: " + ", ".join(failed))
    print("walk-through: " + ", ".join(checks))


if __name__ == "__main__":
    main()
