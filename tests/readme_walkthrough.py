#!/usr/bin/env python3
"""Runs the README's curl walk-through as written and checks what it prints.

The walk-through is the ```bash block after the line
`<!-- walkthrough -->` in README.md. It runs with BASE set to the given URL
once the function answers; every step must succeed, `me` must name the
account, and reusing the rotated refresh token must be refused.
Usage: readme_walkthrough.py README.md BASE_URL [--email ADDRESS] [--password PASSWORD]
With --email the block runs for that address instead of the README's
alice@example.com (a throwaway account, so the walk-through can run again
against the same stack: infra/smoke.sh). With --password, or the environment
variable WALKTHROUGH_PASSWORD (kept out of process arguments), it uses that
password instead of the README's published one, which an account left on a
deployed stage must not have (infra/smoke.sh makes a random one per run). The
password is never printed: it is masked in what the block printed.
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
README_PASSWORD = "violet tangerine 42"
USAGE = "usage: readme_walkthrough.py README.md BASE_URL [--email ADDRESS] [--password PASSWORD]"
# The block puts the password in single-quoted JSON: nothing that needs escaping.
PASSWORD_SHAPE = re.compile(r"[A-Za-z0-9 ._~-]{12,128}")


def parse_args(argv):
    positional, options = [], {}
    i = 0
    while i < len(argv):
        if argv[i] in ("--email", "--password"):
            if i + 1 >= len(argv) or argv[i] in options:
                sys.exit(USAGE)
            options[argv[i]] = argv[i + 1]
            i += 2
        else:
            positional.append(argv[i])
            i += 1
    if len(positional) != 2:
        sys.exit(USAGE)
    return positional, options


def main():
    (readme, base), options = parse_args(sys.argv[1:])
    email = options.get("--email", README_EMAIL)
    password = options.get("--password") or os.environ.get("WALKTHROUGH_PASSWORD") or README_PASSWORD
    if not PASSWORD_SHAPE.fullmatch(password):
        sys.exit("--password: 12 to 128 letters, digits, spaces or ._~-")
    script = walkthrough_block(readme)
    if README_EMAIL not in script:
        sys.exit(f"the walk-through no longer uses {README_EMAIL}")
    if README_PASSWORD not in script:
        sys.exit(f"the walk-through no longer uses the password {README_PASSWORD!r}")
    script = script.replace(README_EMAIL, email).replace(README_PASSWORD, password)
    wait_until_serving(base)
    env = {k: v for k, v in os.environ.items() if k != "WALKTHROUGH_PASSWORD"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={**env, "BASE": base},
        capture_output=True,
        text=True,
        timeout=300,
    )

    def masked(text):
        return text if password == README_PASSWORD else text.replace(password, "********")

    print(masked(result.stdout))
    if result.returncode != 0:
        print(masked(result.stderr), file=sys.stderr)
        sys.exit(f"walk-through failed with exit code {result.returncode}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    replies = [json.loads(line) for line in lines]
    checks = {
        "register accepted": any(r.get("status") == "accepted" for r in replies),
        "me names the account": any(r.get("email") == email for r in replies),
        "address verified": "email/verify: 204" in result.stdout,
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
