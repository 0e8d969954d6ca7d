#!/usr/bin/env python3
"""Checks the account setting the API stage's logs depend on.

API Gateway writes execution logs and access logs with one IAM role per
account and region (its account settings, `cloudwatchRoleArn`). While none is
set, CloudFormation cannot create a stage that enables logging, as this
stack's does. Run this before the first deploy into an account and region:

  python3 infra/check_apigw_logging_role.py --region eu-west-1 [--profile NAME]

Exit 0: a role is set (and, where IAM allows reading it, API Gateway may
assume it and it may write logs). Exit 1: none is set, or the role is gone;
then either deploy once with `CreateApiGatewayAccountRole=true` (the stack
creates the role and sets it; do that from one stack per account and region
only), or set an existing role:

  aws apigateway update-account --patch-operations \\
    op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::<account>:role/<role>

Needs apigateway:GET on the account (and iam:GetRole, iam:ListAttachedRolePolicies
for the deeper checks, which are skipped with a note when not allowed).
"""

import argparse
import json
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

PUSH_POLICY = "AmazonAPIGatewayPushToCloudWatchLogs"


def trusts_api_gateway(document):
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "apigateway.amazonaws.com" in services and "sts:AssumeRole" in actions:
            return True
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", help="the stack's region (default: the profile's)")
    parser.add_argument("--profile", help="AWS profile to use")
    args = parser.parse_args()
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    region = session.region_name
    if not region:
        sys.exit("no region: pass --region or configure one")

    account = session.client("apigateway").get_account()
    role_arn = account.get("cloudwatchRoleArn")
    if not role_arn:
        print(f"{region}: API Gateway has no CloudWatch Logs role (account settings, cloudwatchRoleArn).")
        print("A stage with execution or access logging cannot be created until one is set:")
        print("  deploy once with CreateApiGatewayAccountRole=true, or")
        print("  aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=<role ARN>")
        sys.exit(1)
    print(f"{region}: API Gateway logs with {role_arn}")

    iam = session.client("iam")
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "NoSuchEntity":
            print(f"the role {role_name} does not exist any more: set another one (see above)")
            sys.exit(1)
        print(f"(could not read the role: {code}; its trust and permissions are not checked)")
        return
    if not trusts_api_gateway(role["AssumeRolePolicyDocument"]):
        print(f"the role {role_name} does not let apigateway.amazonaws.com assume it")
        sys.exit(1)
    try:
        attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    except ClientError as error:
        print(f"(could not list the role's policies: {error.response['Error']['Code']})")
        return
    if not any(policy["PolicyName"] == PUSH_POLICY for policy in attached):
        print(f"note: {PUSH_POLICY} is not attached; make sure the role's own policies allow "
              "logs:CreateLogGroup, CreateLogStream, DescribeLogGroups, DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents")
    print("ok: the stage's execution and access logs can be enabled")


if __name__ == "__main__":
    main()
