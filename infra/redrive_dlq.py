#!/usr/bin/env python3
"""Moves every message of a dead-letter queue back to its source queue,
after the cause of the failures is fixed. Works against AWS (credentials
from the environment) or the local stand-in (AWS_ENDPOINT_URL).
Usage: redrive_dlq.py DLQ_URL SOURCE_QUEUE_URL
"""

import os
import sys

import boto3


def main():
    dlq_url, source_url = sys.argv[1], sys.argv[2]
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not batch:
            break
        for message in batch:
            sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    print(f"moved {moved} message(s) back to {source_url}")


if __name__ == "__main__":
    main()
