#!/usr/bin/env python3
"""Reads the email the local stand-in recorded (moto keeps every message SES
was asked to send) and prints the newest single-use token sent to an
address: what a user would copy from the verification or reset email.

Usage: sent_mail.py ADDRESS [PREFIX]
  PREFIX: ev_ (verification, the default) or pr_ (password reset).
The stand-in is at $AWS_ENDPOINT_URL (default http://127.0.0.1:4566).
Exits 1 when no such token was sent to ADDRESS.
"""

import json
import os
import sys
import urllib.request


def messages(endpoint):
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=30) as reply:
        data = json.load(reply)
    return data.get("ses", {}).get("Message", [])


def newest_token(endpoint, address, prefix):
    """The newest word starting with `prefix` in a message to `address`."""
    address = address.strip().lower()
    found = None
    for message in messages(endpoint):
        to = [t.lower() for t in message.get("destinations", {}).get("ToAddresses", [])]
        if address not in to:
            continue
        for word in (message.get("body") or "").split():
            if word.startswith(prefix):
                found = word
                break
    return found


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566").rstrip("/")
    prefix = sys.argv[2] if len(sys.argv) == 3 else "ev_"
    token = newest_token(endpoint, sys.argv[1], prefix)
    if token is None:
        sys.exit(f"no {prefix} token was sent to {sys.argv[1]}")
    print(token)


if __name__ == "__main__":
    main()
