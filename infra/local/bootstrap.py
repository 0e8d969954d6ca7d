#!/usr/bin/env python3
"""Creates the local stand-in's resources from infra/template.yaml.

Every AWS::DynamoDB::Table in the template is created on the emulator at
AWS_ENDPOINT_URL with the same keys, indexes and TTL, named as the template
names it with the stack name replaced by STACK_NAME (default "local"). The
SES sender identity MAIL_FROM is verified so the emulator accepts email,
and the configuration set MAIL_CONFIGURATION_SET is created.
The secrets named in LOCAL_SECRETS ("id=VAR,VAR;id=VAR") are stored in
Secrets Manager as JSON objects of those variables' values, which is where
the functions read them (SECRET_IDS), as in AWS.
Safe to run again: existing resources are left as they are.
"""

import json
import os
import sys
import time

import boto3
import botocore.exceptions
import yaml

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "template.yaml")


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Sub, !Ref, ...) as {tag: value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def table_name(raw, stack):
    """Resolves a resource name; the account id suffix is dropped locally."""
    if isinstance(raw, dict) and "Sub" in raw:
        return raw["Sub"].replace("${AWS::StackName}", stack).replace("-${AWS::AccountId}", "")
    if isinstance(raw, str):
        return raw
    sys.exit(f"cannot resolve table name {raw!r}")


def tables_from_template(stack):
    with open(TEMPLATE) as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        spec = {
            "TableName": table_name(props["TableName"], stack),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in props:
                spec[index_kind] = props[index_kind]
        yield logical_id, spec, props.get("TimeToLiveSpecification")


def create_queues(endpoint, stack):
    """Creates every AWS::SQS::Queue of the template, dead-letter queues first,
    with the template's redrive policy pointing at the local DLQ."""
    with open(TEMPLATE) as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    queues = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    arns = {}
    ordered = sorted(queues, key=lambda lid: "RedrivePolicy" in queues[lid])
    for logical_id in ordered:
        props = queues[logical_id]
        name = table_name(props["QueueName"], stack)
        attributes = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["GetAtt"].split(".")[0]
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": arns[target],
                "maxReceiveCount": str(redrive["maxReceiveCount"]),
            })
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arns[logical_id] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        print(f"queue {name} ({logical_id}) ready")


def create_buckets(endpoint, stack):
    """Creates every AWS::S3::Bucket of the template with its public access
    block; default encryption locally is SSE-S3 (the stand-in has no KMS key)."""
    with open(TEMPLATE) as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        props = resource["Properties"]
        name = table_name(props["BucketName"], stack)
        if name not in existing:
            s3.create_bucket(Bucket=name)
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
            )
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        print(f"bucket {name} ({logical_id}) ready")


def store_secrets(endpoint):
    """Creates or updates each secret of LOCAL_SECRETS from the environment."""
    spec = os.environ.get("LOCAL_SECRETS", "")
    client = boto3.client("secretsmanager", endpoint_url=endpoint)
    for entry in filter(None, spec.split(";")):
        secret_id, names = entry.split("=", 1)
        value = json.dumps({name: os.environ[name] for name in names.split(",")})
        try:
            client.put_secret_value(SecretId=secret_id, SecretString=value)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=secret_id, SecretString=value)
        print(f"secret {secret_id} ready")


def main():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    stack = os.environ.get("STACK_NAME", "local")
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    existing = set(dynamodb.list_tables()["TableNames"])
    for logical_id, spec, ttl in tables_from_template(stack):
        name = spec["TableName"]
        if name not in existing:
            dynamodb.create_table(**spec)
            if ttl:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )
        print(f"table {name} ({logical_id}) ready")
    create_queues(endpoint, stack)
    create_buckets(endpoint, stack)
    store_secrets(endpoint)
    sender = os.environ.get("MAIL_FROM")
    if sender:
        boto3.client("ses", endpoint_url=endpoint).verify_email_identity(
            EmailAddress=sender
        )
        print(f"sender {sender} verified")
    configuration_set = os.environ.get("MAIL_CONFIGURATION_SET")
    if configuration_set:
        ses = boto3.client("sesv2", endpoint_url=endpoint)
        try:
            ses.create_configuration_set(ConfigurationSetName=configuration_set)
        except botocore.exceptions.ClientError as err:
            if "AlreadyExists" not in err.response["Error"]["Code"]:
                raise
        print(f"configuration set {configuration_set} ready")


def wait_for(endpoint, seconds=30):
    """Blocks until the emulator answers."""
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"the AWS stand-in at {endpoint} did not start")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--wait":
        wait_for(os.environ["AWS_ENDPOINT_URL"])
    else:
        main()
