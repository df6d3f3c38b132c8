#!/usr/bin/env python3
"""Generates docs/openapi.yaml (OpenAPI 3.1) for registrar-gateway from its route table and the
AsyncAPI document, so the HTTP contract stays in step with the Kafka one.

  python3 scripts/openapi.py            rewrite docs/openapi.yaml
  python3 scripts/openapi.py --check    exit 1 when docs/openapi.yaml differs from what it would write

Sources: the routes of `Services/Gateway/GatewayCore/Routes.swift` (`Route("POST", "/v1/login",
.identity, "login", auth: .none, stampsIP: true)`), and for each route the command message of that
type on the service's command channel in docs/asyncapi.yaml: its `data` schema is the request body
(POST) or gives the query parameters (GET). Every schema of the AsyncAPI document is copied into
`components.schemas`, so `$ref`s keep their meaning. `ip` is removed from the bodies of the routes
whose `ip` the gateway stamps (the client's claim is discarded).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ROUTES_SWIFT = REPO / "Services" / "Gateway" / "GatewayCore" / "Routes.swift"
ASYNCAPI = REPO / "docs" / "asyncapi.yaml"
OPENAPI = REPO / "docs" / "openapi.yaml"

ROUTE_PATTERN = re.compile(
    r'Route\(\s*"(GET|POST)",\s*"([^"]+)",\s*\.(\w+),\s*"([a-z_.]+)",\s*auth:\s*\.`?(\w+)`?'
    r'(?:,\s*stampsIP:\s*(true|false))?(?:,\s*query:\s*\[([^\]]*)\])?(?:,\s*integerQuery:\s*\[([^\]]*)\])?\s*\)',
    re.S,
)

# Statuses a route may answer besides 200 (docs/decisions.md, "HTTP gateway", has the table).
ERROR_STATUSES = {
    "400": "MALFORMED or UNSUPPORTED_VERSION: the request (or the command the services built from it) is malformed.",
    "401": "UNAUTHENTICATED (no or invalid token) or INVALID_CREDENTIALS.",
    "403": "FORBIDDEN, or a rule that refuses outright (EMULATOR_FORBIDDEN, DEVICE_UNSUPPORTED, ...).",
    "404": "What the command names does not exist (…_NOT_FOUND), or no such route.",
    "405": "The path exists with another method.",
    "409": "The state conflicts with the command (PHONE_IN_USE, PRIMARY_EXISTS, ...).",
    "410": "An expired flow or code (REGISTRATION_EXPIRED, SMS_CODE_EXPIRED).",
    "413": "The body is larger than the services' 64 KiB message limit.",
    "422": "A well-formed request a rule refused (INVALID_PHONE, PASSWORD_TOO_WEAK, SMS_CODE_INVALID, ...).",
    "423": "Locked (ACCOUNT_LOCKED, ACCOUNT_FROZEN, ACCOUNT_TEMPORARILY_LOCKED, DEVICE_LOCKED, SMS_CODE_LOCKED).",
    "428": "A further step first (STEP_UP_REQUIRED, DEVICE_VERIFICATION_REQUIRED, SCAN_REQUIRED, ...).",
    "429": "RATE_LIMITED, at the gateway (per address and route) or by a service; see Retry-After.",
    "500": "INTERNAL_ERROR reported by a service.",
    "503": "The command could not be published; retry with the same Idempotency-Key.",
    "504": "No reply in time; the body names the command id. Retry with the same Idempotency-Key.",
}


def routes() -> list[dict]:
    text = ROUTES_SWIFT.read_text(encoding="utf-8")
    found = []
    for m in ROUTE_PATTERN.finditer(text):
        method, path, service, ctype, auth, stamps, query, integers = m.groups()
        names = lambda s: re.findall(r'"(\w+)"', s or "")  # noqa: E731
        found.append(
            {
                "method": method, "path": path, "service": service, "type": ctype, "auth": auth,
                "stampsIP": stamps == "true", "query": names(query), "integerQuery": names(integers),
            }
        )
    return found


def command_messages(asyncapi: dict) -> dict[tuple[str, str], dict]:
    """(service, command type) -> message, from the four command channels."""
    messages = asyncapi["components"]["messages"]
    found = {}
    for channel in asyncapi["channels"].values():
        address = channel.get("address", "")
        if not address.endswith(".commands"):
            continue
        service = address.split(".")[0]
        for ref in channel.get("messages", {}).values():
            message = messages[ref["$ref"].split("/")[-1]]
            found[(service, message["name"])] = message
    return found


def data_schema_name(message: dict) -> str | None:
    for part in message.get("payload", {}).get("allOf", []):
        data = part.get("properties", {}).get("data", {})
        if "$ref" in data:
            return data["$ref"].split("/")[-1]
    return None


def operation_id(route: dict) -> str:
    words = re.split(r"[._]", route["type"])
    return "".join(w if i == 0 else w.capitalize() for i, w in enumerate(words)) + (
        "Read" if route["method"] == "GET" and route["type"].endswith(("export.get",)) else ""
    )


def build() -> tuple[dict, list[str]]:
    asyncapi = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    schemas = copy.deepcopy(asyncapi["components"]["schemas"])
    commands = command_messages(asyncapi)
    problems: list[str] = []
    paths: dict[str, dict] = {}
    answer = {"$ref": "#/components/schemas/GatewayAnswer"}
    for route in routes():
        message = commands.get((route["service"], route["type"]))
        if message is None:
            problems.append(f"{route['method']} {route['path']}: {route['type']} is not a command of {route['service']}.commands")
            continue
        data_name = data_schema_name(message)
        data_schema = schemas.get(data_name, {}) if data_name else {}
        operation: dict = {
            "operationId": operation_id(route),
            "summary": message.get("summary", route["type"]),
            "description": f"Publishes `{route['type']}` on `{route['service']}.commands` and answers its reply.\n\n"
            + message.get("description", ""),
            "tags": [route["service"]],
            "x-registrar-command": {"topic": f"{route['service']}.commands", "type": route["type"]},
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        }
        if route["auth"] == "session":
            operation["security"] = [{"session": []}]
        elif route["auth"] == "operator":
            operation["security"] = [{"operator": []}]
        else:
            operation["security"] = []
        if route["method"] == "POST":
            body_ref = f"#/components/schemas/{data_name}" if data_name else None
            if route["stampsIP"] and data_name:
                body = copy.deepcopy(data_schema)
                body.get("properties", {}).pop("ip", None)
                if "required" in body:
                    body["required"] = [f for f in body["required"] if f != "ip"]
                body["description"] = (
                    body.get("description", "") + "\n\n`ip` is stamped by the gateway from the connection; "
                    "a client's `ip` is discarded."
                ).strip()
                name = data_name.removesuffix("Data") + "Body"
                schemas[name] = body
                body_ref = f"#/components/schemas/{name}"
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {"$ref": body_ref} if body_ref else {"type": "object"}}},
            }
        else:
            properties = data_schema.get("properties", {})
            required = set(data_schema.get("required", []))
            for name in route["query"]:
                schema = {"type": "integer"} if name in route["integerQuery"] else {"type": "string"}
                if name in properties and "description" in properties[name]:
                    schema["description"] = properties[name]["description"]
                operation["parameters"].append(
                    {"name": name, "in": "query", "required": name in required, "schema": schema}
                )
        responses = {
            "200": {"description": "`ok`: the reply's data (`result` holds the command's result).",
                    "headers": {"X-Command-Id": {"$ref": "#/components/headers/CommandId"}},
                    "content": {"application/json": {"schema": answer}}},
            "202": {"description": "`pending_review`: a review task was opened.",
                    "headers": {"X-Command-Id": {"$ref": "#/components/headers/CommandId"}},
                    "content": {"application/json": {"schema": answer}}},
        }
        for status, text in ERROR_STATUSES.items():
            response = {"description": text, "content": {"application/json": {"schema": answer}}}
            if status in ("429", "503"):
                response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
            responses[status] = response
        operation["responses"] = responses
        paths.setdefault(route["path"], {})[route["method"].lower()] = operation

    schemas["GatewayAnswer"] = {
        "type": "object",
        "description": "The reply's `data` with the command id, or the gateway's own refusal (then only "
        "`code` and `message` are certain).",
        "required": ["code", "message"],
        "properties": {
            "commandId": {"type": "string", "description": "The command's id (the Idempotency-Key when sent)."},
            "status": {"type": "string", "enum": ["ok", "rejected", "pending_review", "timeout", "unavailable"]},
            "code": {"type": "string", "description": "A ReplyCode, or the gateway's NOT_FOUND, METHOD_NOT_ALLOWED, "
                     "PAYLOAD_TOO_LARGE, RATE_LIMITED, TIMEOUT, UNAVAILABLE."},
            "message": {"type": "string"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "result": {"type": "object"},
        },
    }
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Registrar HTTP gateway",
            "version": asyncapi["info"]["version"],
            "description": "registrar-gateway: the HTTP/1.1 JSON edge for apps. Each route publishes one command "
            "of the wire contract (docs/asyncapi.yaml) as a CloudEvent, waits for its reply on "
            "`registrar.replies` and answers with a status that follows the reply. Generated by "
            "`scripts/openapi.py` from the gateway's route table and the AsyncAPI document; do not edit.\n\n"
            "`Authorization: Bearer <token>` is the session token (`/v1/` routes that need one) or the "
            "operator token (`/ops/` routes); nothing else from the client reaches the token extensions. "
            "`Idempotency-Key` (a UUID) becomes the command id: a retry with the same key is answered from "
            "the services' inbox with the kept reply and has no second effect. `ip` in a body is discarded; "
            "the gateway stamps it from the connection and its IP database.",
            "license": {"name": "Proprietary"},
        },
        "servers": [{"url": "http://127.0.0.1:18080", "description": "scripts/stack up"}],
        "security": [],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "A UUID chosen by the client per logical command; becomes the command id.",
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "headers": {
                "CommandId": {"description": "The command id.", "schema": {"type": "string"}},
                "RetryAfter": {"description": "Seconds to wait before retrying.",
                               "schema": {"type": "integer", "minimum": 1}},
            },
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "A session (access) token."},
                "operator": {"type": "http", "scheme": "bearer", "description": "An operator token."},
            },
        },
    }
    return document, problems


def render(document: dict) -> str:
    header = "# Generated by scripts/openapi.py from Services/Gateway/GatewayCore/Routes.swift and docs/asyncapi.yaml.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=110, allow_unicode=True)


def main() -> int:
    document, problems = build()
    for problem in problems:
        print(f"openapi: {problem}", file=sys.stderr)
    text = render(document)
    if "--check" in sys.argv[1:]:
        current = OPENAPI.read_text(encoding="utf-8") if OPENAPI.is_file() else ""
        if current != text:
            print("openapi: docs/openapi.yaml is out of date: run python3 scripts/openapi.py", file=sys.stderr)
            return 1
        return 1 if problems else 0
    OPENAPI.write_text(text, encoding="utf-8")
    print(f"openapi: wrote {OPENAPI.relative_to(REPO)} ({len(document['paths'])} paths)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
