#!/usr/bin/env python3
"""Moves SQS messages to the worker functions locally, as Lambda's event
source mapping does in AWS: receive a batch, invoke the worker under
`cargo lambda watch` with an SQS event, delete what the worker did not
report as failed. Failed messages come back after the visibility timeout
and reach the dead-letter queue after the queue's receive limit.
Usage: sqs_pump.py QUEUE_URL FUNCTION [LAMBDA_PORT]
"""

import json
import sys
import time
import urllib.request

import boto3


def invoke(function, port, event):
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read() or b"{}")


def main():
    queue_url, function = sys.argv[1], sys.argv[2]
    port = sys.argv[3] if len(sys.argv) > 3 else "9000"
    sqs = boto3.client("sqs", endpoint_url=queue_url.split("/123456789012/")[0])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        # Short polls: the stand-in serves one request at a time, so a long
        # poll would hold every other call up.
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    AttributeNames=["All"]).get("Messages", [])
        if not batch:
            time.sleep(1)
            continue
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
        } for m in batch]}
        try:
            result = invoke(function, port, event)
        except Exception as err:  # the worker is still compiling or crashed: retry later
            print(f"sqs pump: {function} not reachable ({err}); retrying", file=sys.stderr)
            time.sleep(2)
            continue
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for m in batch:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    main()
