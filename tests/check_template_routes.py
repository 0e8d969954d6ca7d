#!/usr/bin/env python3
"""Checks infra/template.yaml against infra/openapi.yaml and the workspace.

- Every API event of a function (Type: Api) is a route of the spec, and
  every route of the spec is an API event: API Gateway exposes exactly the
  documented routes (the functions' side is tests/tests/openapi_routes.rs).
- Every function crate under functions/ is deployed by exactly one
  AWS::Serverless::Function built with cargo-lambda from that binary, and
  every such resource names an existing crate.
Usage: check_template_routes.py (from the repository root)
"""

import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "infra", "local"))
from bootstrap import CfnLoader  # noqa: E402


def main():
    with open("infra/template.yaml") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    with open("infra/openapi.yaml") as handle:
        spec = yaml.safe_load(handle)
    spec_routes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete", "options")
    }
    template_routes = set()
    binaries = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            sys.exit(f"{logical_id} is not built with cargo-lambda")
        binary = metadata["BuildProperties"]["Binary"]
        if binary in binaries:
            sys.exit(f"{binary} is deployed twice ({binaries[binary]}, {logical_id})")
        binaries[binary] = logical_id
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                template_routes.add((props["Method"].upper(), props["Path"]))
    problems = []
    for route in sorted(template_routes - spec_routes):
        problems.append(f"template routes {route} but the spec does not list it")
    for route in sorted(spec_routes - template_routes):
        problems.append(f"spec lists {route} but no function event routes it")
    crates = set(os.listdir("functions"))
    for crate in sorted(crates - set(binaries)):
        problems.append(f"function crate {crate} is not deployed by the template")
    for binary in sorted(set(binaries) - crates):
        problems.append(f"template builds {binary}, which is not a function crate")
    if problems:
        sys.exit("\n".join(problems))
    print(f"template: {len(template_routes)} API routes match the spec; {len(binaries)} functions match their crates")


if __name__ == "__main__":
    main()
