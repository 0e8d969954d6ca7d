#!/usr/bin/env python3
"""Proves offline that infra/template.yaml deploys the API it describes.

The template is handed to the SAM translator (samtranslator, the library
CloudFormation's AWS::Serverless transform runs) the way CloudFormation hands
it over: every `Fn::Transform: AWS::Include` already replaced by the included
file (CloudFormation resolves those before the template-level transform),
and parameters given values. No AWS account, no network: managed policies
come from a stub. Then the generated CloudFormation is checked:

- the REST API body has one method per spec route (infra/openapi.yaml), and
  the spec's routes are exactly the Api events of the functions (the
  functions' side: tests/tests/openapi_routes.rs checks the Rust routers
  against the spec);
- every method has an `x-amazon-apigateway-integration` of type aws_proxy,
  httpMethod POST, whose uri is the function whose Api event declares that
  method and path;
- the spec's pieces survive the merge: request validators (every one a
  method or the API refers to is defined), JSON body schemas, gateway
  responses, binary media types;
- exactly one AWS::ApiGateway::Stage (the one with throttling and access
  logs), no deployment-created stage, and the WAF association on it;
- every AWS::Lambda::Permission is either bound to this REST API by its
  SourceArn, or grants the admin role the admin function URL; an API
  Gateway permission's SourceArn names one method and path, and that route
  is an Api event of the very function it lets API Gateway invoke (no
  `${Api}/*`, no grant on another function's route); every Api event has
  its permission;
- identity policies (every IAM role's inline policies, AWS::IAM::Policy and
  ::ManagedPolicy): no Allow with a wildcard action (`*`, `dynamodb:*`,
  `s3:Get*`), NotAction or NotResource, and no Allow on Resource `*` except
  the actions in RESOURCE_STAR_ACTIONS; managed policies only those SAM
  attaches for logs, X-Ray and SQS polling, and API Gateway's logging role
  (EXPECTED_MANAGED_POLICIES);
- table writes: DeleteItem only where a function deletes (DELETE_ITEM, with
  the LeadingKeys it is bound to); audit writers other than admin bound by
  `dynamodb:LeadingKeys` to users' chains (AUDIT_PARTITIONS), never the
  admin chain;
- the data key: every statement for any principal of the account is bound to
  it (kms:CallerAccount) and to services (kms:ViaService); through Lambda, key
  use is bound by kms:EncryptionContext:aws:lambda:FunctionArn to exactly this
  stack's functions and grants to AWS resources;
- the admin function: its URL has AuthType AWS_IAM, its environment has
  ADMIN_URL_AUTH=AWS_IAM and ADMIN_ROLE_ARN=!Ref AdminRoleArn, and the
  AdminRoleArn parameter's AllowedPattern admits one role ARN only (not `*`,
  an account id or an account root); every parameter value the gate
  deploys with matches the parameter's AllowedPattern and AllowedValues;
- the WebACL has its named rules (WAF_RULES), each blocking (managed rule
  groups without a Count override);
- the template's Rules refuse Stage=prod without AlarmTopicArn;
- every CloudWatch alarm notifies AlarmTopicArn when it is given;
- every function crate under functions/ is deployed by exactly one
  AWS::Serverless::Function built with cargo-lambda from that binary.

Usage (from the repository root):
  check_template.py [TEMPLATE]               check (default infra/template.yaml)
  check_template.py --expect-failure TEMPLATE  succeed only if TEMPLATE fails
  check_template.py --self-test              break the template in memory in
                                             known ways; each must be caught
Prints the counts (methods, integrations, stages, permissions, alarms,
functions, IAM roles and statements, WAF rules).
"""

import copy
import logging
import os
import re
import sys

import yaml

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
logging.disable(logging.WARNING)  # the translator's feature-toggle chatter

import samtranslator  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method")
REGION = "us-east-1"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:wallet-alarms"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/wallet-admin"

# Values for the parameters without a default (what `sam deploy --guided` asks).
PARAMETERS = {
    "AdminCidrs": "203.0.113.0/24",
    "MailFrom": "no-reply@wallet.example",
    "MailIdentity": "wallet.example",
    "AdminRoleArn": ADMIN_ROLE,
    "ReviewerEmails": "review@wallet.example",
    "AlarmTopicArn": ALARM_TOPIC,
}


class CheckFailed(Exception):
    pass


# ---------- reading the template as CloudFormation does ----------


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML, short-form tags turned into the JSON form."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_yaml(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=CfnLoader)


def resolve_includes(node, base_dir):
    """Replaces every `Fn::Transform: {Name: AWS::Include}` by the file's content."""
    if isinstance(node, dict):
        transform_spec = node.get("Fn::Transform")
        if len(node) == 1 and isinstance(transform_spec, dict) and transform_spec.get("Name") == "AWS::Include":
            location = transform_spec["Parameters"]["Location"]
            if "://" in location:
                raise CheckFailed(f"AWS::Include of {location}: only local files can be checked offline")
            return resolve_includes(load_yaml(os.path.join(base_dir, location)), base_dir)
        return {key: resolve_includes(value, base_dir) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_includes(item, base_dir) for item in node]
    return node


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only for names in
    `Policies`; the template uses inline statements, so none are needed."""

    def load(self):
        return {}


def translate(template, parameters):
    values = {"AWS::Region": REGION, "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    values.update(parameters)
    return transform(copy.deepcopy(template), values, NoManagedPolicies())


# ---------- what the template and the spec declare ----------


def spec_routes(spec):
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def api_events(template):
    """(METHOD, path) -> function logical id, from the functions' Api events."""
    routes = {}
    problems = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            props = event["Properties"]
            route = (props["Method"].upper(), props["Path"])
            if route in routes:
                problems.append(f"{route} is routed by both {routes[route]} and {logical_id}")
            routes[route] = logical_id
    return routes, problems


def crate_problems(template):
    problems = []
    binaries = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{logical_id} is not built with cargo-lambda")
            continue
        binary = metadata["BuildProperties"]["Binary"]
        if binary in binaries:
            problems.append(f"{binary} is deployed twice ({binaries[binary]}, {logical_id})")
        binaries[binary] = logical_id
    crates = set(os.listdir("functions"))
    for crate in sorted(crates - set(binaries)):
        problems.append(f"function crate {crate} is not deployed by the template")
    for binary in sorted(set(binaries) - crates):
        problems.append(f"template builds {binary}, which is not a function crate")
    return problems, len(binaries)


# ---------- checks on the translator's output ----------


def of_type(resources, kind):
    return {lid: res for lid, res in resources.items() if res["Type"] == kind}


def integration_function(uri):
    """The function logical id an integration uri invokes, or None."""
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
    if isinstance(text, list):
        text = text[0]
    if not isinstance(text, str) or ":lambda:path/2015-03-31/functions/" not in text:
        return None
    match = re.search(r"functions/\$\{(\w+)\.Arn\}/invocations$", text)
    return match.group(1) if match else None


def refs(node):
    """Every logical id a value refers to (Ref, GetAtt, ${...} in Sub)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    found.update(refs(value[1]))
            else:
                found.update(refs(value))
    elif isinstance(node, list):
        for item in node:
            found.update(refs(item))
    return found


def check_api(output, spec, events, stats, problems):
    resources = output["Resources"]
    apis = of_type(resources, "AWS::ApiGateway::RestApi")
    if len(apis) != 1:
        problems.append(f"expected one AWS::ApiGateway::RestApi, found {len(apis)}")
        return None
    api_id, api = next(iter(apis.items()))
    body = api["Properties"].get("Body")
    if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
        problems.append(f"{api_id} has no inline OpenAPI Body")
        return api_id
    methods = {}
    for path, item in body["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                methods[(method.upper(), path)] = operation
    stats["methods"] = len(methods)
    integrated = 0
    for route, operation in sorted(methods.items()):
        integration = operation.get("x-amazon-apigateway-integration")
        if not integration:
            problems.append(f"{route[0]} {route[1]}: no x-amazon-apigateway-integration")
            continue
        integrated += 1
        if integration.get("type") != "aws_proxy":
            problems.append(f"{route[0]} {route[1]}: integration type {integration.get('type')!r}, not aws_proxy")
        if integration.get("httpMethod") != "POST":
            problems.append(f"{route[0]} {route[1]}: integration httpMethod {integration.get('httpMethod')!r}, not POST")
        target = integration_function(integration.get("uri"))
        if target is None or target != events.get(route):
            problems.append(
                f"{route[0]} {route[1]}: integration invokes {target}, but the route is declared by {events.get(route)}"
            )
    stats["integrations"] = integrated
    declared = spec_routes(spec)
    for route in sorted(declared - set(methods)):
        problems.append(f"spec lists {route} but the deployed API has no such method")
    for route in sorted(set(methods) - declared):
        problems.append(f"the deployed API has {route}, which the spec does not list")

    # The spec's own pieces must survive the merge.
    validators = body.get("x-amazon-apigateway-request-validators") or {}
    used = {("(API default)", body.get("x-amazon-apigateway-request-validator"))}
    for route, operation in methods.items():
        used.add((f"{route[0]} {route[1]}", operation.get("x-amazon-apigateway-request-validator")))
    for where, name in sorted(used, key=str):
        if name is not None and name not in validators:
            problems.append(f"{where}: request validator {name!r} is not defined in x-amazon-apigateway-request-validators")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or "requestBody" not in operation:
                continue
            deployed = methods.get((method.upper(), path), {})
            if deployed.get("requestBody") != operation["requestBody"]:
                problems.append(f"{method.upper()} {path}: the spec's request body schema did not survive the merge")
            if deployed.get("x-amazon-apigateway-request-validator") != operation.get(
                "x-amazon-apigateway-request-validator"
            ):
                problems.append(f"{method.upper()} {path}: the spec's request validator did not survive the merge")
    schemas = (spec.get("components") or {}).get("schemas") or {}
    deployed_schemas = (body.get("components") or {}).get("schemas") or {}
    for name in sorted(set(schemas) - set(deployed_schemas)):
        problems.append(f"schema {name} is missing from the deployed API")
    responses = body.get("x-amazon-apigateway-gateway-responses") or {}
    for kind in ("BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"):
        if kind not in responses:
            problems.append(f"gateway response {kind} is missing from the deployed API")
    if "multipart/form-data" not in (body.get("x-amazon-apigateway-binary-media-types") or []):
        problems.append("multipart/form-data is not a binary media type of the deployed API")
    return api_id


def check_stage(output, api_id, stats, problems):
    resources = output["Resources"]
    stages = of_type(resources, "AWS::ApiGateway::Stage")
    deployments = of_type(resources, "AWS::ApiGateway::Deployment")
    implicit = [lid for lid, res in deployments.items() if res["Properties"].get("StageName")]
    stats["stages"] = len(stages) + len(implicit)
    for lid in implicit:
        problems.append(f"{lid} creates a stage of its own ({lid}.StageName); only the configured stage may exist")
    if len(stages) != 1:
        problems.append(f"expected one AWS::ApiGateway::Stage, found {len(stages)}")
        return
    stage_id, stage = next(iter(stages.items()))
    props = stage["Properties"]
    if props.get("RestApiId") != {"Ref": api_id}:
        problems.append(f"{stage_id} is not a stage of {api_id}")
    settings = props.get("MethodSettings") or []
    if not any("ThrottlingRateLimit" in s and "ThrottlingBurstLimit" in s for s in settings):
        problems.append(f"{stage_id} has no throttling")
    if not (props.get("AccessLogSetting") or {}).get("DestinationArn"):
        problems.append(f"{stage_id} has no access log")
    associations = of_type(resources, "AWS::WAFv2::WebACLAssociation")
    on_stage = [lid for lid, res in associations.items() if stage_id in refs(res["Properties"].get("ResourceArn"))]
    if len(on_stage) != 1:
        problems.append(f"expected one AWS::WAFv2::WebACLAssociation on {stage_id}, found {len(on_stage)}")


def permission_route(route):
    """An Api event's (METHOD, path) as SAM writes it into a permission's
    SourceArn: path parameters and ANY become `*`."""
    method, path = route
    return ("*" if method == "ANY" else method, re.sub(r"\{[^}]+\}", "*", path))


def check_permissions(output, api_id, events, stats, problems):
    resources = output["Resources"]
    permissions = of_type(resources, "AWS::Lambda::Permission")
    granted = {permission_route(route): function for route, function in events.items()}
    covered = set()
    stats["permissions"] = len(permissions)
    for lid, permission in sorted(permissions.items()):
        props = permission["Properties"]
        if props.get("Principal") == {"Ref": "AdminRoleArn"}:
            through_url = (
                props.get("Action") == "lambda:InvokeFunctionUrl" and props.get("FunctionUrlAuthType") == "AWS_IAM"
            ) or (props.get("Action") == "lambda:InvokeFunction" and props.get("InvokedViaFunctionUrl") is True)
            if props.get("FunctionName") != {"Ref": "AdminFunction"} or not through_url:
                problems.append(f"{lid}: grants AdminRoleArn something other than the admin function URL")
            continue
        if props.get("Principal") != "apigateway.amazonaws.com":
            problems.append(f"{lid}: principal {props.get('Principal')!r} is neither API Gateway nor the admin role")
            continue
        source = props.get("SourceArn")
        text, variables = None, {}
        if isinstance(source, dict) and "Fn::Sub" in source:
            sub = source["Fn::Sub"]
            text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
        if not text or ":execute-api:" not in text:
            problems.append(f"{lid}: SourceArn {source!r} is not an execute-api ARN")
            continue
        api_ref = variables.get("__ApiId__") if "${__ApiId__}" in text else None
        if api_ref != {"Ref": api_id} and f"${{{api_id}}}" not in text:
            problems.append(f"{lid}: SourceArn is not bound to {api_id}")
        # SAM grants each Api event on every stage of the API ("*"); the API
        # has exactly one stage (check_stage), so that is this stage.
        if "${__Stage__}" in text and variables.get("__Stage__") not in ("*", {"Ref": "Stage"}):
            problems.append(f"{lid}: SourceArn names stage {variables.get('__Stage__')!r}")
        # The rest names stage, method and path: it must be one route, an Api
        # event of the function this permission lets API Gateway invoke.
        match = re.search(r"\$\{(?:__ApiId__|" + re.escape(api_id) + r")\}/(.*)$", text)
        parts = match.group(1).split("/", 2) if match else []
        function = (props.get("FunctionName") or {}).get("Ref")
        if len(parts) < 3 or not parts[2]:
            problems.append(f"{lid}: SourceArn {text!r} names no single method and path (it covers every route)")
            continue
        route = (parts[1], "/" + parts[2])
        if granted.get(route) != function:
            problems.append(
                f"{lid}: SourceArn allows {route[0]} {route[1]} on {function}, but that route is an Api event of {granted.get(route)}"
            )
        covered.add(route)
    for route in sorted(set(granted) - covered):
        problems.append(f"Api event {route[0]} {route[1]} of {granted[route]} has no permission for API Gateway")
    urls = [lid for lid, p in permissions.items() if p["Properties"].get("Principal") == {"Ref": "AdminRoleArn"}]
    actions = {permissions[lid]["Properties"].get("Action") for lid in urls}
    if "lambda:InvokeFunctionUrl" not in actions:
        problems.append("the admin role is not granted lambda:InvokeFunctionUrl on the admin function")
    invoke = [lid for lid in urls if permissions[lid]["Properties"].get("Action") == "lambda:InvokeFunction"]
    if not invoke or not all(permissions[lid]["Properties"].get("InvokedViaFunctionUrl") is True for lid in invoke):
        problems.append(
            "the admin role needs lambda:InvokeFunction with InvokedViaFunctionUrl: true as well (function URLs created since October 2025)"
        )


# Which secrets each function may read (README, Deploy): the signing key only
# in login; the public keys wherever tokens are verified; the PII field keys
# where PII or TOTP secrets are sealed (login, KYC, admin); the audit MAC keys
# only in the audit writers (recharge, webhook-worker, admin) and the
# verifier (admin).
SECRETS = {
    "LoginFunction": ["JwtSigningKeySecretName", "JwtPublicKeysSecretName", "PiiKeysSecretName"],
    "FlagsFunction": ["JwtPublicKeysSecretName"],
    "RechargeFunction": ["JwtPublicKeysSecretName", "AuditHmacKeysSecretName"],
    "AdminFunction": ["JwtPublicKeysSecretName", "PiiKeysSecretName", "AuditHmacKeysSecretName"],
    "KycUploadFunction": ["JwtPublicKeysSecretName", "PiiKeysSecretName"],
    "WebhookFunction": ["WebhookSecretName"],
    "WebhookWorkerFunction": ["AuditHmacKeysSecretName"],
}
SECRET_VALUES_IN_ENV = ("JWT_SECRET", "JWT_SIGNING_KEY", "JWT_PUBLIC_KEYS", "WEBHOOK_SECRETS_", "PII_KEYS", "PII_ACTIVE_KEY_ID", "AUDIT_HMAC_")


def secret_arn(name):
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{{name}}}-??????"}


def check_secrets(template, output, problems):
    if "resolve:secretsmanager" in repr(template):
        problems.append("a {{resolve:secretsmanager:...}} reference is left: secrets are read at cold start, not deployed into the environment")
    resources = output["Resources"]
    for lid, function in sorted(of_type(resources, "AWS::Lambda::Function").items()):
        variables = ((function["Properties"].get("Environment") or {}).get("Variables")) or {}
        for name in variables:
            if name.startswith(SECRET_VALUES_IN_ENV):
                problems.append(f"{lid}: secret value {name} in the environment")
        expected = SECRETS.get(lid, [])
        wanted_ids = {"Fn::Sub": ",".join(f"${{{n}}}" for n in expected)} if expected else None
        if variables.get("SECRET_IDS") != wanted_ids:
            problems.append(f"{lid}: SECRET_IDS is {variables.get('SECRET_IDS')!r}, expected {wanted_ids!r}")
        if expected and variables.get("SECRETS_REFRESH_SECONDS") != "300":
            problems.append(f"{lid}: SECRETS_REFRESH_SECONDS is not \"300\"")
        role = function["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
        statements = [
            statement
            for policy in (resources.get(role, {}).get("Properties", {}).get("Policies") or [])
            for statement in policy["PolicyDocument"]["Statement"]
            if "secretsmanager" in repr(statement.get("Action"))
        ]
        granted = [arn for st in statements for arn in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
        actions = {a for st in statements for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
        if actions - {"secretsmanager:GetSecretValue"}:
            problems.append(f"{lid}: secrets actions beyond GetSecretValue: {sorted(actions)}")
        if sorted(map(repr, granted)) != sorted(repr(secret_arn(n)) for n in expected):
            problems.append(f"{lid}: may read secrets {granted!r}, expected exactly {expected}")


# ---------- IAM: identity policies of the translated stack ----------

# Actions an Allow statement may grant on Resource "*" because the service
# cannot scope them, with the reason. The template has none inline today:
# X-Ray (PutTraceSegments, PutTelemetryRecords) reaches the functions only
# through the AWSXrayWriteOnlyAccess managed policy SAM attaches for
# `Tracing: Active`, and the EMF metrics are written through the log group,
# not cloudwatch:PutMetricData. Add an action here only with its reason.
RESOURCE_STAR_ACTIONS = {}

LAMBDA_BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
SQS_POLL = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
APIGW_LOGS = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}


def expected_managed_policies(template):
    """Role logical id -> the managed policy ARNs it deliberately has: SAM's
    logs policy and X-Ray write access (Globals Tracing: Active) on every
    function role, SQS polling on the roles of functions with an SQS event,
    and API Gateway's CloudWatch push policy on its account logging role.
    Every other role has none."""
    expected = {"ApiGatewayCloudWatchRole": [APIGW_LOGS]}
    for lid, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        arns = [LAMBDA_BASIC, XRAY_WRITE]
        events = (resource["Properties"].get("Events") or {}).values()
        if any(event["Type"] == "SQS" for event in events):
            arns.append(SQS_POLL)
        expected[f"{lid}Role"] = arns
    return expected


def as_list(value):
    return value if isinstance(value, list) else [value]


def leaves(node):
    """Every plain string in a value (through Fn::If branches and lists)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [leaf for item in node for leaf in leaves(item)]
    if isinstance(node, dict):
        if "Fn::If" in node:
            return leaves(node["Fn::If"][1:])
        return []  # Ref, GetAtt, Sub: a named resource, not a wildcard
    return []


def identity_policies(resources):
    """(owner, policy document) of every identity policy in the stack."""
    for lid, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for policy in as_list(props.get("Policies") or []):
                if isinstance(policy, dict) and "PolicyDocument" in policy:
                    yield lid, policy["PolicyDocument"]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield lid, props.get("PolicyDocument") or {}


def check_iam(template, output, stats, problems):
    resources = output["Resources"]
    statements = 0
    for owner, document in identity_policies(resources):
        for index, statement in enumerate(as_list(document.get("Statement") or [])):
            statements += 1
            if statement.get("Effect") != "Allow":
                continue
            where = f"{owner}: statement {statement.get('Sid', index)}"
            for key in ("NotAction", "NotResource"):
                if key in statement:
                    problems.append(f"{where} allows with {key}")
            actions = leaves(statement.get("Action"))
            for action in actions:
                if "*" in action:
                    problems.append(f"{where} allows the wildcard action {action!r}")
            if "*" in leaves(statement.get("Resource")):
                unscoped = [a for a in actions if a not in RESOURCE_STAR_ACTIONS]
                if unscoped or not actions:
                    problems.append(f'{where} allows {unscoped or actions} on Resource "*"')
    stats["statements"] = statements
    expected = expected_managed_policies(template)
    roles = of_type(resources, "AWS::IAM::Role")
    stats["roles"] = len(roles)
    for lid, role in sorted(roles.items()):
        arns = role["Properties"].get("ManagedPolicyArns") or []
        wanted = expected.get(lid, [])
        extra = [arn for arn in arns if arn not in wanted]
        missing = [arn for arn in wanted if arn not in arns]
        if extra:
            problems.append(f"{lid}: managed policies beyond the deliberate ones: {extra}")
        if missing:
            problems.append(f"{lid}: expected managed policies missing: {missing}")
    for kind in ("AWS::IAM::User", "AWS::IAM::Group"):
        for lid in of_type(resources, kind):
            problems.append(f"{lid}: the stack creates an {kind}")


# ---------- table writes: deletes and the audit chains ----------

# Where each function may DeleteItem, as {table: LeadingKeys patterns or None
# for the whole table}; a statement must be bound to some of those patterns
# and no other: login and admin clear lockout counters (LOCK#<digest>,
# shared/src/auth/lockout.rs) and nothing else of the counters table, which
# also holds everyone's velocity counters (VEL#...); login spends emailed
# tokens (OTT#<hash>) and withdraws an account's export request
# (EXPORT#<id>) and nothing else of the sessions table, and erases a
# deleted account's KYC record and submissions; recharge
# releases its own idempotency records, admin erases KYC submissions. Every
# other DeleteItem is a finding.
DELETE_ITEM = {
    "LoginFunction": {"CountersTable": ["LOCK#*"], "SessionsTable": ["EXPORT#*", "OTT#*"], "KycTable": ["SUB#*", "USER#*"]},
    "RechargeFunction": {"WalletTable": ["IDEM#*"]},
    "AdminFunction": {"CountersTable": ["LOCK#*"], "KycTable": None},
}
# Writers of the audit table other than admin, and the only partitions they
# may write: users' chains, never the admin chain (`AUDIT`).
AUDIT_PARTITIONS = {
    "RechargeFunction": ["AUDIT#user#*"],
    "WebhookWorkerFunction": ["AUDIT#user#*"],
}
AUDIT_WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def leading_keys(statement):
    """The LeadingKeys patterns a statement is bound to (every key must
    match one), or None when it is not bound."""
    condition = statement.get("Condition") or {}
    for operator in ("ForAllValues:StringLike", "ForAllValues:StringEquals"):
        patterns = (condition.get(operator) or {}).get("dynamodb:LeadingKeys")
        if patterns is not None:
            return sorted(as_list(patterns))
    return None


def function_statements(output):
    """(function logical id, statement) of every function role's inline policies."""
    resources = output["Resources"]
    for lid, function in sorted(of_type(resources, "AWS::Lambda::Function").items()):
        role = function["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
        for policy in resources.get(role, {}).get("Properties", {}).get("Policies") or []:
            for statement in as_list(policy["PolicyDocument"].get("Statement") or []):
                if statement.get("Effect") == "Allow":
                    yield lid, statement


def check_table_writes(output, problems):
    for lid, statement in function_statements(output):
        where = f"{lid}: statement {statement.get('Sid')}"
        actions = set(leaves(statement.get("Action")))
        tables = refs(statement.get("Resource"))
        keys = leading_keys(statement)
        if "dynamodb:DeleteItem" in actions:
            allowed = DELETE_ITEM.get(lid, {})
            for table in sorted(tables):
                if table not in allowed:
                    problems.append(f"{where} allows dynamodb:DeleteItem on {table}, which it never deletes from")
                elif allowed[table] is not None and (keys is None or not set(keys) <= set(allowed[table])):
                    problems.append(f"{where}: dynamodb:DeleteItem on {table} not bound to LeadingKeys {allowed[table]} (found {keys})")
        if "AuditTable" in tables and actions & AUDIT_WRITE_ACTIONS and lid != "AdminFunction":
            wanted = AUDIT_PARTITIONS.get(lid)
            if wanted is None:
                problems.append(f"{where} writes the audit table, which only admin and {sorted(AUDIT_PARTITIONS)} may")
            elif keys != sorted(wanted) or len(tables) != 1:
                problems.append(f"{where}: audit writes not bound to LeadingKeys {wanted} (found {keys}): it could rewrite the admin chain")


# ---------- the data key ----------

DATA_KEY_USE = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey*", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}
LAMBDA_CONTEXT = "kms:EncryptionContext:aws:lambda:FunctionArn"


def stack_function_arns(template):
    """The ARN of every function, from its fixed FunctionName."""
    arns = []
    for lid, resource in sorted(template["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        name = (resource["Properties"].get("FunctionName") or {}).get("Fn::Sub")
        if not isinstance(name, str):
            continue
        arns.append("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + name)
    return sorted(arns)


def sub_text(value):
    return value.get("Fn::Sub") if isinstance(value, dict) else value


def check_data_key(template, output, problems):
    key = output["Resources"].get("DataKey")
    if not key:
        problems.append("no DataKey in the translated stack")
        return
    arns = stack_function_arns(template)
    for index, statement in enumerate(as_list(key["Properties"]["KeyPolicy"].get("Statement") or [])):
        principal = (statement.get("Principal") or {}).get("AWS")
        if statement.get("Effect") != "Allow" or principal != "*":
            continue
        where = f"DataKey: statement {statement.get('Sid', index)}"
        condition = statement.get("Condition") or {}
        equals = condition.get("StringEquals") or {}
        if equals.get("kms:CallerAccount") != {"Ref": "AWS::AccountId"}:
            problems.append(f"{where} is not bound to this account (kms:CallerAccount)")
        services = [sub_text(s) for s in as_list(equals.get("kms:ViaService") or [])]
        if not services:
            problems.append(f"{where} lets any principal of the account use the key directly (no kms:ViaService)")
        if not any(isinstance(s, str) and s.startswith("lambda.") for s in services):
            continue
        actions = set(as_list(statement.get("Action")))
        if len(services) != 1:
            problems.append(f"{where} mixes Lambda with other services; Lambda use needs its own encryption-context condition")
        if actions & DATA_KEY_USE:
            context = sorted(sub_text(v) for v in as_list(equals.get(LAMBDA_CONTEXT) or []))
            if context != arns:
                problems.append(f"{where}: Lambda use of the key not bound to this stack's functions by {LAMBDA_CONTEXT} (found {context})")
        if "kms:CreateGrant" in actions and (condition.get("Bool") or {}).get("kms:GrantIsForAWSResource") != "true":
            problems.append(f"{where}: kms:CreateGrant through Lambda without kms:GrantIsForAWSResource")
        extra = actions - DATA_KEY_USE - {"kms:DescribeKey", "kms:CreateGrant"}
        if extra:
            problems.append(f"{where}: actions beyond using the key: {sorted(extra)}")


# ---------- the admin function and its URL ----------

# Values AdminRoleArn's AllowedPattern must refuse: each would open the URL
# to more than one role.
NOT_ONE_ROLE = ("*", "123456789012", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::*:role/wallet-admin")


def check_parameters(template, values, problems):
    """The values the gate deploys with must pass the parameters' own
    constraints, as CloudFormation enforces them before the transform."""
    declared = template.get("Parameters") or {}
    for name, spec in declared.items():
        value = values.get(name, spec.get("Default"))
        if value is None or not isinstance(value, str):
            continue
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"parameter {name}={value!r} does not match its AllowedPattern {pattern!r}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in allowed:
            problems.append(f"parameter {name}={value!r} is not one of its AllowedValues")
    pattern = (declared.get("AdminRoleArn") or {}).get("AllowedPattern")
    if pattern is None:
        problems.append("AdminRoleArn's AllowedPattern is missing: \"*\" or an account would open the admin URL")
    else:
        for value in NOT_ONE_ROLE:
            if re.fullmatch(pattern, value):
                problems.append(f"AdminRoleArn's AllowedPattern admits {value!r}, which is not one role")
        if not re.fullmatch(pattern, ADMIN_ROLE):
            problems.append(f"AdminRoleArn's AllowedPattern refuses the role ARN {ADMIN_ROLE!r}")


def check_admin(output, problems):
    resources = output["Resources"]
    function = resources.get("AdminFunction")
    if not function:
        problems.append("no AdminFunction in the translated stack")
        return
    variables = ((function["Properties"].get("Environment") or {}).get("Variables")) or {}
    if variables.get("ADMIN_URL_AUTH") != "AWS_IAM":
        problems.append(f"AdminFunction: ADMIN_URL_AUTH is {variables.get('ADMIN_URL_AUTH')!r}, not \"AWS_IAM\"")
    if variables.get("ADMIN_ROLE_ARN") != {"Ref": "AdminRoleArn"}:
        problems.append(f"AdminFunction: ADMIN_ROLE_ARN is {variables.get('ADMIN_ROLE_ARN')!r}, not !Ref AdminRoleArn")
    urls = of_type(resources, "AWS::Lambda::Url")
    admin_urls = [lid for lid, url in urls.items() if url["Properties"].get("TargetFunctionArn") == {"Ref": "AdminFunction"}]
    if len(admin_urls) != 1:
        problems.append(f"expected one function URL on AdminFunction, found {len(admin_urls)}")
    for lid, url in sorted(urls.items()):
        if url["Properties"].get("AuthType") != "AWS_IAM":
            problems.append(f"{lid}: function URL AuthType {url['Properties'].get('AuthType')!r}, not AWS_IAM")


# ---------- the WAF ----------

# The WebACL's rules today; each must stay (GeoBlock is conditional on
# BlockedCountries and checked when present in either branch).
WAF_RULES = (
    "AwsCommonRules",
    "AwsKnownBadInputs",
    "AwsIpReputation",
    "AuthRateLimit",
    "KycUploadRateLimit",
    "ApiRateLimit",
    "BodySizeLimit",
)


def waf_rules(rules):
    found = []
    for rule in as_list(rules or []):
        if isinstance(rule, dict) and "Fn::If" in rule:
            found += waf_rules([branch for branch in rule["Fn::If"][1:] if isinstance(branch, dict) and "Name" in branch])
        elif isinstance(rule, dict) and "Name" in rule:
            found.append(rule)
    return found


def check_waf(output, stats, problems):
    acls = of_type(output["Resources"], "AWS::WAFv2::WebACL")
    if len(acls) != 1:
        problems.append(f"expected one AWS::WAFv2::WebACL, found {len(acls)}")
        return
    lid, acl = next(iter(acls.items()))
    rules = {rule["Name"]: rule for rule in waf_rules(acl["Properties"].get("Rules"))}
    stats["waf_rules"] = len(rules)
    for name in WAF_RULES:
        if name not in rules:
            problems.append(f"WebACL {lid}: rule {name} is missing")
    for name, rule in sorted(rules.items()):
        if "ManagedRuleGroupStatement" in (rule.get("Statement") or {}):
            if rule.get("OverrideAction") != {"None": {}}:
                problems.append(f"WebACL {lid}: managed rule group {name} is overridden ({rule.get('OverrideAction')!r}), not enforced")
        elif "Block" not in (rule.get("Action") or {}):
            problems.append(f"WebACL {lid}: rule {name} does not block ({rule.get('Action')!r})")


# ---------- template Rules ----------

PROD_ALARM_RULE = "ProdNeedsAlarmTopic"


def check_rules(output, problems):
    rule = (output.get("Rules") or {}).get(PROD_ALARM_RULE)
    if not rule:
        problems.append(f"Rules.{PROD_ALARM_RULE} is missing: prod could deploy with every alarm silent")
        return
    if rule.get("RuleCondition") != {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}:
        problems.append(f"Rules.{PROD_ALARM_RULE}: RuleCondition is not Stage == prod")
    wanted = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    if not any(assertion.get("Assert") == wanted for assertion in rule.get("Assertions") or []):
        problems.append(f"Rules.{PROD_ALARM_RULE}: no assertion that AlarmTopicArn is not empty")


def check_alarms(output, stats, problems):
    alarms = of_type(output["Resources"], "AWS::CloudWatch::Alarm")
    stats["alarms"] = len(alarms)
    for lid, alarm in sorted(alarms.items()):
        actions = alarm["Properties"].get("AlarmActions")
        if actions is None or ALARM_TOPIC not in refs(actions) and "AlarmTopicArn" not in refs(actions):
            problems.append(f"{lid}: no AlarmActions to AlarmTopicArn")


# ---------- queues and their event sources ----------

# AWS: a queue read by a Lambda event source mapping keeps messages hidden
# for at least six times the function's timeout, so the poller's retries of
# a throttled or timed-out batch do not hand the messages out again.
VISIBILITY_PER_TIMEOUT = 6
SQS_DEFAULT_VISIBILITY = 30
LAMBDA_DEFAULT_TIMEOUT = 3


def int_values(value):
    """The integers a property may take (both branches of an Fn::If)."""
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict) and "Fn::If" in value:
        return [v for branch in value["Fn::If"][1:] for v in int_values(branch)]
    return []


def check_queues(output, problems):
    resources = output["Resources"]
    for lid, mapping in sorted(of_type(resources, "AWS::Lambda::EventSourceMapping").items()):
        props = mapping["Properties"]
        source = props.get("EventSourceArn")
        queue_id = source.get("Fn::GetAtt", [None])[0] if isinstance(source, dict) else None
        queue = resources.get(queue_id) or {}
        if queue.get("Type") != "AWS::SQS::Queue":
            continue
        function_id = (props.get("FunctionName") or {}).get("Ref")
        function = (resources.get(function_id) or {}).get("Properties") or {}
        timeout = function.get("Timeout", LAMBDA_DEFAULT_TIMEOUT)
        visibility = queue["Properties"].get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY)
        if not isinstance(visibility, int) or visibility < VISIBILITY_PER_TIMEOUT * timeout:
            problems.append(
                f"{queue_id}: VisibilityTimeout {visibility} under {VISIBILITY_PER_TIMEOUT} × "
                f"{function_id}'s Timeout {timeout} ({VISIBILITY_PER_TIMEOUT * timeout})"
            )
        maximum = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if not isinstance(maximum, int):
            problems.append(f"{lid}: no ScalingConfig.MaximumConcurrency bounding the pollers")
            continue
        for reserved in int_values(function.get("ReservedConcurrentExecutions")):
            if reserved < maximum:
                problems.append(
                    f"{function_id}: reserved concurrency {reserved} below MaximumConcurrency {maximum} "
                    f"of {lid}: the event source is throttled"
                )


# ---------- email ----------

def check_mail(output, problems):
    """Every function that sends email names the stack's configuration set,
    may send only from MAIL_FROM, under that set; the set suppresses bounced
    and complaining addresses and requires TLS."""
    resources = output["Resources"]
    sets = of_type(resources, "AWS::SES::ConfigurationSet")
    if list(sets) != ["MailConfigurationSet"]:
        problems.append(f"expected one AWS::SES::ConfigurationSet, MailConfigurationSet (found {sorted(sets)})")
    for lid, config in sets.items():
        props = config["Properties"]
        reasons = set((props.get("SuppressionOptions") or {}).get("SuppressedReasons") or [])
        if reasons != {"BOUNCE", "COMPLAINT"}:
            problems.append(f"{lid}: suppression list not fed by BOUNCE and COMPLAINT (found {sorted(reasons)})")
        if (props.get("DeliveryOptions") or {}).get("TlsPolicy") != "REQUIRE":
            problems.append(f"{lid}: DeliveryOptions.TlsPolicy is not REQUIRE")
    senders = set()
    for lid, statement in function_statements(output):
        if "ses:SendEmail" not in set(leaves(statement.get("Action"))):
            continue
        senders.add(lid)
        where = f"{lid}: statement {statement.get('Sid')}"
        if "MailConfigurationSet" not in refs(statement.get("Resource")):
            problems.append(f"{where}: ses:SendEmail without the configuration set's ARN (every send names it)")
        condition = (statement.get("Condition") or {}).get("StringEquals") or {}
        if condition.get("ses:FromAddress") != {"Ref": "MailFrom"}:
            problems.append(f"{where}: ses:SendEmail not bound to ses:FromAddress MailFrom")
    for lid, function in sorted(of_type(resources, "AWS::Lambda::Function").items()):
        variables = ((function["Properties"].get("Environment") or {}).get("Variables")) or {}
        mails = "MAIL_FROM" in variables
        if mails and variables.get("MAIL_CONFIGURATION_SET") != {"Ref": "MailConfigurationSet"}:
            problems.append(f"{lid}: MAIL_CONFIGURATION_SET is {variables.get('MAIL_CONFIGURATION_SET')!r}, not the stack's set")
        if mails != (lid in senders):
            problems.append(f"{lid}: MAIL_FROM set {mails} but ses:SendEmail granted {lid in senders}")


def check(template_path):
    """Returns the counts; raises CheckFailed with every problem found."""
    raw = load_yaml(template_path)
    return check_loaded(raw, os.path.dirname(os.path.abspath(template_path)))


def packaged(template):
    """What `sam package` / `sam deploy` hand CloudFormation: local code
    locations replaced by the uploaded artefacts' S3 URIs."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = f"s3://wallet-deploy-artefacts/{logical_id}.zip"
    return template


def check_loaded(raw, base_dir, overrides=None):
    template = packaged(resolve_includes(raw, base_dir))
    problems = []
    stats = {"methods": 0, "integrations": 0, "stages": 0, "permissions": 0}
    api = next(
        (res for res in template["Resources"].values() if res["Type"] == "AWS::Serverless::Api"),
        None,
    )
    spec = (api or {}).get("Properties", {}).get("DefinitionBody")
    if not isinstance(spec, dict) or "paths" not in spec:
        raise CheckFailed("the AWS::Serverless::Api has no OpenAPI DefinitionBody")
    events, duplicate = api_events(template)
    problems += duplicate
    declared = spec_routes(spec)
    for route in sorted(set(events) - declared):
        problems.append(f"template routes {route} but the spec does not list it")
    for route in sorted(declared - set(events)):
        problems.append(f"spec lists {route} but no function event routes it")
    crates, functions = crate_problems(template)
    problems += crates
    stats["functions"] = functions
    parameters = {
        name: value for name, value in PARAMETERS.items() if name in (template.get("Parameters") or {})
    }
    parameters.update(overrides or {})
    check_parameters(template, parameters, problems)
    try:
        output = translate(template, parameters)
    except Exception as error:  # the translator's own refusals are findings too
        raise CheckFailed(f"SAM translator refused the template: {error}") from error
    api_id = check_api(output, spec, events, stats, problems)
    if api_id:
        check_stage(output, api_id, stats, problems)
        check_permissions(output, api_id, events, stats, problems)
    check_alarms(output, stats, problems)
    check_secrets(template, output, problems)
    check_iam(template, output, stats, problems)
    check_table_writes(output, problems)
    check_data_key(template, output, problems)
    check_admin(output, problems)
    check_waf(output, stats, problems)
    check_rules(output, problems)
    check_queues(output, problems)
    check_mail(output, problems)
    stats["problems"] = problems
    return stats


def summary(stats):
    return (
        f"{stats['methods']} methods, {stats['integrations']} integrations, {stats['stages']} stages, "
        f"{stats['permissions']} permissions, {stats.get('alarms', 0)} alarms, {stats.get('functions', 0)} functions, "
        f"{stats.get('roles', 0)} IAM roles ({stats.get('statements', 0)} statements), {stats.get('waf_rules', 0)} WAF rules"
    )


# ---------- self-test: known breakages must be caught ----------


def _api(raw):
    return next(res for res in raw["Resources"].values() if res["Type"] == "AWS::Serverless::Api")


def _drop(key):
    def mutate(raw):
        _api(raw)["Properties"].pop(key, None)

    return mutate


def _unscoped_permission(raw):
    raw["Resources"]["StrayPermission"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "LoginFunction"},
            "Principal": "apigateway.amazonaws.com",
        },
    }


def _alarm_without_action(raw):
    for res in raw["Resources"].values():
        if res["Type"] == "AWS::CloudWatch::Alarm":
            res["Properties"].pop("AlarmActions", None)
            return


def _extra_event(raw):
    events = raw["Resources"]["FlagsFunction"]["Properties"]["Events"]
    events["Stray"] = {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/v1/stray", "Method": "GET"}}


def _url_permission_without_invoke(raw):
    raw["Resources"] = {
        lid: res
        for lid, res in raw["Resources"].items()
        if not (res["Type"] == "AWS::Lambda::Permission" and res["Properties"].get("InvokedViaFunctionUrl"))
    }


def _flags_reads_signing_key(raw):
    policies = raw["Resources"]["FlagsFunction"]["Properties"]["Policies"]
    policies.append({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn("JwtSigningKeySecretName")}]})


def _waf_elsewhere(raw):
    association = raw["Resources"]["WebAclAssociation"]["Properties"]
    association["ResourceArn"] = {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/Stage"}


def _add_statement(function, statement):
    def mutate(raw):
        raw["Resources"][function]["Properties"]["Policies"].append({"Statement": [statement]})

    return mutate


def _add_policy(function, policy):
    def mutate(raw):
        raw["Resources"][function]["Properties"]["Policies"].append(policy)

    return mutate


def _admin_env(name, value=None):
    def mutate(raw):
        variables = raw["Resources"]["AdminFunction"]["Properties"]["Environment"]["Variables"]
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value

    return mutate


def _env(function, name, value=None):
    def mutate(raw):
        variables = raw["Resources"][function]["Properties"]["Environment"]["Variables"]
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value

    return mutate


def _admin_url_open(raw):
    raw["Resources"]["AdminFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"] = "NONE"


def _parameter(name, value):
    def mutate(raw):
        return {name: value}

    return mutate


def _admin_role_unconstrained(raw):
    raw["Parameters"]["AdminRoleArn"].pop("AllowedPattern", None)


def _waf_without_rules(raw):
    raw["Resources"]["WebAcl"]["Properties"]["Rules"] = []


def _waf_group_counts(raw):
    raw["Resources"]["WebAcl"]["Properties"]["Rules"][0]["OverrideAction"] = {"Count": {}}


def _api_permission(function, source):
    def mutate(raw):
        raw["Resources"]["StrayApiPermission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": function},
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:" + source},
            },
        }

    return mutate


def _without_prod_alarm_rule(raw):
    raw.pop("Rules", None)


def _login_deletes_sessions(raw):
    raw["Resources"]["LoginFunction"]["Properties"]["Policies"][0]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": [{"Fn::GetAtt": ["UsersTable", "Arn"]}, {"Fn::GetAtt": ["SessionsTable", "Arn"]}]}
    )


def _drop_condition(function, sid):
    def mutate(raw):
        for statement in raw["Resources"][function]["Properties"]["Policies"][0]["Statement"]:
            if statement.get("Sid") == sid:
                statement.pop("Condition", None)

    return mutate


def _leading_keys(function, sid, patterns):
    def mutate(raw):
        for statement in raw["Resources"][function]["Properties"]["Policies"][0]["Statement"]:
            if statement.get("Sid") == sid:
                statement["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": patterns}}

    return mutate


def _audit_partition(function, pattern):
    def mutate(raw):
        for statement in raw["Resources"][function]["Properties"]["Policies"][0]["Statement"]:
            if statement.get("Sid") == "AppendAudit":
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] = [pattern]

    return mutate


def _key_statement(sid, mutate_statement):
    def mutate(raw):
        for statement in raw["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]:
            if statement.get("Sid") == sid:
                mutate_statement(statement)

    return mutate


def _without_lambda_context(statement):
    statement["Condition"]["StringEquals"].pop(LAMBDA_CONTEXT)


def _lambda_context_any_function(statement):
    statement["Condition"]["StringEquals"][LAMBDA_CONTEXT] = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"}


def _lambda_with_tables(statement):
    statement["Condition"]["StringEquals"]["kms:ViaService"].append({"Fn::Sub": "lambda.${AWS::Region}.amazonaws.com"})


def _admin_url_principal(principal, resource="AdminUrlInvokePermission"):
    def mutate(raw):
        raw["Resources"][resource]["Properties"]["Principal"] = principal

    return mutate


def _queue_property(queue, name, value=None):
    def mutate(raw):
        props = raw["Resources"][queue]["Properties"]
        if value is None:
            props.pop(name, None)
        else:
            props[name] = value

    return mutate


def _function_property(function, name, value):
    def mutate(raw):
        raw["Resources"][function]["Properties"][name] = value

    return mutate


def _mail_statement(function, mutate_statement):
    def mutate(raw):
        for policy in raw["Resources"][function]["Properties"]["Policies"]:
            for statement in policy.get("Statement") or []:
                if statement.get("Action") == "ses:SendEmail":
                    mutate_statement(statement)

    return mutate


def _only_the_identity(statement):
    statement["Resource"] = statement["Resource"][0]


def _without_suppression(raw):
    raw["Resources"]["MailConfigurationSet"]["Properties"].pop("SuppressionOptions")


def _without_maximum_concurrency(function, event):
    def mutate(raw):
        raw["Resources"][function]["Properties"]["Events"][event]["Properties"].pop("ScalingConfig", None)

    return mutate


SELF_TESTS = [
    ("login sending without the configuration set", _env("LoginFunction", "MAIL_CONFIGURATION_SET"), "LoginFunction: MAIL_CONFIGURATION_SET is None"),
    ("the review worker's mail statement without the configuration set", _mail_statement("FraudReviewWorkerFunction", _only_the_identity), "FraudReviewWorkerFunction: statement NotifyReviewers: ses:SendEmail without the configuration set's ARN"),
    ("bounced addresses not suppressed", _without_suppression, "MailConfigurationSet: suppression list not fed"),
    ("the admin URL without lambda:InvokeFunction", _url_permission_without_invoke, "InvokedViaFunctionUrl: true"),
    ("the WAF associated with another stage", _waf_elsewhere, "WebACLAssociation on"),
    ("no MergeDefinitions (integrations not merged)", _drop("MergeDefinitions"), "no x-amazon-apigateway-integration"),
    ("no OpenApiVersion (extra stage)", _drop("OpenApiVersion"), "creates a stage of its own"),
    ("a permission without SourceArn", _unscoped_permission, "not an execute-api ARN"),
    ("an alarm without actions", _alarm_without_action, "no AlarmActions"),
    ("a route the spec does not list", _extra_event, "the spec does not list"),
    ("the signing key readable by flags", _flags_reads_signing_key, "FlagsFunction: may read secrets"),
    ("the audit keys readable by kyc-upload", _add_statement("KycUploadFunction", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn("AuditHmacKeysSecretName")}), "KycUploadFunction: may read secrets"),
    ("the audit keys not named in webhook-worker's SECRET_IDS", _env("WebhookWorkerFunction", "SECRET_IDS"), "WebhookWorkerFunction: SECRET_IDS is None"),
    ("an audit key in recharge's environment", _env("RechargeFunction", "AUDIT_HMAC_KEYS", "{}"), "RechargeFunction: secret value AUDIT_HMAC_KEYS in the environment"),
    ("Action * on Resource * for flags", _add_statement("FlagsFunction", {"Effect": "Allow", "Action": "*", "Resource": "*"}), "the wildcard action '*'"),
    ("dynamodb:* on * for recharge", _add_statement("RechargeFunction", {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}), "the wildcard action 'dynamodb:*'"),
    ("a scoped action on Resource * for login", _add_statement("LoginFunction", {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}), 'on Resource "*"'),
    ("NotAction in an Allow for webhook", _add_statement("WebhookFunction", {"Effect": "Allow", "NotAction": "iam:*", "Resource": {"Fn::GetAtt": ["WebhooksTable", "Arn"]}}), "allows with NotAction"),
    ("the SecretsManagerReadWrite managed policy on flags", _add_policy("FlagsFunction", "SecretsManagerReadWrite"), "managed policies beyond the deliberate ones"),
    ("a managed policy ARN on admin", _add_policy("AdminFunction", "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"), "managed policies beyond the deliberate ones"),
    ("ADMIN_URL_AUTH removed from admin", _admin_env("ADMIN_URL_AUTH"), "ADMIN_URL_AUTH is None"),
    ("ADMIN_URL_AUTH=NONE on admin", _admin_env("ADMIN_URL_AUTH", "NONE"), "ADMIN_URL_AUTH is 'NONE'"),
    ("ADMIN_ROLE_ARN removed from admin", _admin_env("ADMIN_ROLE_ARN"), "ADMIN_ROLE_ARN is None"),
    ("the admin URL without IAM auth", _admin_url_open, "AuthType 'NONE'"),
    ("AdminRoleArn=*", _parameter("AdminRoleArn", "*"), "AdminRoleArn='*' does not match its AllowedPattern"),
    ("AdminRoleArn an account id", _parameter("AdminRoleArn", "123456789012"), "does not match its AllowedPattern"),
    ("AdminRoleArn without AllowedPattern", _admin_role_unconstrained, "AdminRoleArn's AllowedPattern is missing"),
    ("the WebACL with Rules: []", _waf_without_rules, "rule AwsCommonRules is missing"),
    ("a managed rule group set to Count", _waf_group_counts, "managed rule group AwsCommonRules is overridden"),
    ("an API permission on admin for ${Api}/*", _api_permission("AdminFunction", "${Api}/*"), "names no single method and path"),
    ("an API permission on admin for every route", _api_permission("AdminFunction", "${Api}/*/*/*"), "that route is an Api event of None"),
    ("an API permission on login for a flags route", _api_permission("LoginFunction", "${Api}/*/GET/v1/flags"), "that route is an Api event of FlagsFunction"),
    ("no prod rule for AlarmTopicArn", _without_prod_alarm_rule, "Rules.ProdNeedsAlarmTopic is missing"),
    ("DeleteItem on users and sessions for login", _login_deletes_sessions, "LoginFunction: statement None allows dynamodb:DeleteItem on UsersTable"),
    ("login's token deletes widened to the whole sessions table", _drop_condition("LoginFunction", "SpendEmailedTokens"), "LoginFunction: statement SpendEmailedTokens: dynamodb:DeleteItem on SessionsTable not bound to LeadingKeys ['EXPORT#*', 'OTT#*']"),
    ("login's export deletes widened to the whole sessions table", _drop_condition("LoginFunction", "WithdrawOwnExport"), "LoginFunction: statement WithdrawOwnExport: dynamodb:DeleteItem on SessionsTable not bound to LeadingKeys ['EXPORT#*', 'OTT#*']"),
    ("login's export deletes widened to sessions", _leading_keys("LoginFunction", "WithdrawOwnExport", ["EXPORT#*", "SESSION#*"]), "LoginFunction: statement WithdrawOwnExport: dynamodb:DeleteItem on SessionsTable not bound to LeadingKeys ['EXPORT#*', 'OTT#*'] (found ['EXPORT#*', 'SESSION#*'])"),
    ("DeleteItem on export requests for the export worker", _add_statement("AccountExportFunction", {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": {"Fn::GetAtt": ["SessionsTable", "Arn"]}, "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["EXPORT#*"]}}}), "AccountExportFunction: statement None allows dynamodb:DeleteItem on SessionsTable, which it never deletes from"),
    ("the audit table written by the export worker", _add_statement("AccountExportFunction", {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}}), "AccountExportFunction: statement None writes the audit table"),
    ("DeleteItem on the whole wallet table for recharge", _drop_condition("RechargeFunction", "ReleaseIdempotencyKeys"), "dynamodb:DeleteItem on WalletTable not bound to LeadingKeys"),
    ("DeleteItem on the whole counters table for login", _drop_condition("LoginFunction", "ClearOwnLockout"), "LoginFunction: statement ClearOwnLockout: dynamodb:DeleteItem on CountersTable not bound to LeadingKeys ['LOCK#*']"),
    ("login's counters delete widened to velocity counters", _leading_keys("LoginFunction", "ClearOwnLockout", ["LOCK#*", "VEL#*"]), "LoginFunction: statement ClearOwnLockout: dynamodb:DeleteItem on CountersTable not bound to LeadingKeys ['LOCK#*']"),
    ("DeleteItem on the whole counters table for admin", _drop_condition("AdminFunction", "ClearLockouts"), "AdminFunction: statement ClearLockouts: dynamodb:DeleteItem on CountersTable not bound to LeadingKeys ['LOCK#*']"),
    ("DeleteItem on the audit table for webhook-worker", _add_statement("WebhookWorkerFunction", {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}}), "allows dynamodb:DeleteItem on AuditTable"),
    ("recharge's audit writes without LeadingKeys", _drop_condition("RechargeFunction", "AppendAudit"), "RechargeFunction: statement AppendAudit: audit writes not bound"),
    ("webhook-worker's audit writes without LeadingKeys", _drop_condition("WebhookWorkerFunction", "AppendAudit"), "WebhookWorkerFunction: statement AppendAudit: audit writes not bound"),
    ("recharge may write the admin chain (AUDIT*)", _audit_partition("RechargeFunction", "AUDIT*"), "audit writes not bound"),
    ("the audit table written by fraud-review-worker", _add_statement("FraudReviewWorkerFunction", {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}}), "FraudReviewWorkerFunction: statement None writes the audit table"),
    ("the admin URL granted to the account", _admin_url_principal({"Ref": "AWS::AccountId"}), "AdminUrlInvokePermission: principal"),
    ("the admin URL granted to everyone", _admin_url_principal("*", "AdminUrlInvokeFunctionPermission"), "AdminUrlInvokeFunctionPermission: principal '*'"),
    ("the data key's Lambda use without encryption context", _key_statement("StackFunctionEnvironmentsThroughLambda", _without_lambda_context), "Lambda use of the key not bound to this stack's functions"),
    ("the data key's Lambda use for any function", _key_statement("StackFunctionEnvironmentsThroughLambda", _lambda_context_any_function), "Lambda use of the key not bound to this stack's functions"),
    ("Lambda back in the tables-and-queues key statement", _key_statement("AccountPrincipalsThroughTablesAndQueues", _lambda_with_tables), "mixes Lambda with other services"),
    ("Lambda grants on the data key for anything", _key_statement("LambdaGrantsForAwsResources", lambda s: s["Condition"].pop("Bool")), "kms:CreateGrant through Lambda without kms:GrantIsForAWSResource"),
    ("the review queue hidden 60 s for a 30 s worker", _queue_property("ReviewQueue", "VisibilityTimeout", 60), "ReviewQueue: VisibilityTimeout 60 under 6 × FraudReviewWorkerFunction's Timeout 30"),
    ("the export queue on SQS's 30 s default visibility", _queue_property("ExportQueue", "VisibilityTimeout"), "ExportQueue: VisibilityTimeout 30 under 6 × AccountExportFunction's Timeout 60 (360)"),
    ("the webhook queue on SQS's 30 s default visibility", _queue_property("WebhookQueue", "VisibilityTimeout"), "WebhookQueue: VisibilityTimeout 30 under 6 × WebhookWorkerFunction's Timeout 30"),
    ("the webhook worker's timeout raised past its queue's visibility", _function_property("WebhookWorkerFunction", "Timeout", 60), "WebhookQueue: VisibilityTimeout 180 under 6 × WebhookWorkerFunction's Timeout 60"),
    ("review events without MaximumConcurrency", _without_maximum_concurrency("FraudReviewWorkerFunction", "Reviews"), "FraudReviewWorkerFunctionReviews: no ScalingConfig.MaximumConcurrency"),
    ("export events without MaximumConcurrency", _without_maximum_concurrency("AccountExportFunction", "Exports"), "AccountExportFunctionExports: no ScalingConfig.MaximumConcurrency"),
    ("the export worker sending without the configuration set", _env("AccountExportFunction", "MAIL_CONFIGURATION_SET"), "AccountExportFunction: MAIL_CONFIGURATION_SET is None"),
    ("webhook events without MaximumConcurrency", _without_maximum_concurrency("WebhookWorkerFunction", "ProviderEvents"), "WebhookWorkerFunctionProviderEvents: no ScalingConfig.MaximumConcurrency"),
    ("the review worker throttled by reserved concurrency", _function_property("FraudReviewWorkerFunction", "ReservedConcurrentExecutions", {"Fn::If": ["ReservesConcurrency", 2, {"Ref": "AWS::NoValue"}]}), "FraudReviewWorkerFunction: reserved concurrency 2 below MaximumConcurrency 5"),
]


def self_test(template_path):
    raw = load_yaml(template_path)
    base_dir = os.path.dirname(os.path.abspath(template_path))
    stats = check_loaded(copy.deepcopy(raw), base_dir)
    if stats["problems"]:
        raise CheckFailed("self-test needs a passing template:\n" + "\n".join(stats["problems"]))
    failures = []
    for name, mutate, expected in SELF_TESTS:
        broken = copy.deepcopy(raw)
        overrides = mutate(broken)
        try:
            found = check_loaded(broken, base_dir, overrides)["problems"]
        except CheckFailed as error:
            found = [str(error)]
        if not any(expected in problem for problem in found):
            failures.append(f"{name}: not caught (expected a problem containing {expected!r}; got {found[:3]})")
        else:
            print(f"self-test: caught {name}")
    # An undefined request validator in the spec must be caught too.
    broken = resolve_includes(copy.deepcopy(raw), base_dir)
    spec = _api(broken)["Properties"]["DefinitionBody"]
    first_path = next(iter(spec["paths"].values()))
    next(op for m, op in first_path.items() if m in HTTP_METHODS)["x-amazon-apigateway-request-validator"] = "missing"
    found = check_loaded(broken, base_dir)["problems"]
    if not any("is not defined" in problem for problem in found):
        failures.append("an undefined request validator: not caught")
    else:
        print("self-test: caught an undefined request validator")
    if failures:
        raise CheckFailed("\n".join(failures))


def main(argv):
    args = argv[1:]
    if args[:1] == ["--self-test"]:
        try:
            self_test(args[1] if len(args) > 1 else "infra/template.yaml")
        except CheckFailed as error:
            sys.exit(f"check_template self-test FAILED:\n{error}")
        print("check_template self-test: every known breakage is caught")
        return
    expect_failure = args[:1] == ["--expect-failure"]
    if expect_failure:
        args = args[1:]
    path = args[0] if args else "infra/template.yaml"
    try:
        stats = check(path)
        problems = stats["problems"]
    except CheckFailed as error:
        stats, problems = None, [str(error)]
    counts = summary(stats) if stats else "not translated"
    if expect_failure:
        if not problems:
            sys.exit(f"{path}: expected the check to fail, but it passed ({counts})")
        print(f"{path}: fails as expected ({counts}; {len(problems)} problems, first: {problems[0]})")
        return
    if problems:
        print(f"{path}: {counts}", file=sys.stderr)
        sys.exit("\n".join(problems))
    print(f"{path}: SAM translator {samtranslator.__version__}: {counts}; all checks pass")


if __name__ == "__main__":
    main(sys.argv)
