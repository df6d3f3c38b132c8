#!/usr/bin/env python3
"""Static checks of Registrar's deployment files and AsyncAPI document.

Checks docker-compose.yml, deploy/Dockerfile, .dockerignore and docs/asyncapi.yaml against each other,
against the Swift sources (REGISTRAR_* variables, Shared/Messaging/Topics.swift, the event types passed
to `emit(`/`publish(`, the `ReplyCode(rawValue:)` codes) and against the wire contract
(<repo>/../shared/design/CONTRACT.md). Needs Python 3 and PyYAML only; runs without Docker.

Usage: python3 scripts/check-deploy.py
Exit status 0 when every check passed, 1 otherwise. The last line printed is always
`deploy-check: N passed, M failed`. A check whose input does not exist yet (Topics.swift, the contract)
is skipped with a note and counts neither way.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - the environment decides
    print("FAIL  PyYAML is required: pip install pyyaml")
    print("deploy-check: 0 passed, 1 failed")
    sys.exit(1)

REPO = Path(__file__).resolve().parent.parent
CONTRACT = REPO.parent / "shared" / "design" / "CONTRACT.md"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ASYNCAPI = REPO / "docs" / "asyncapi.yaml"
TOPICS_SWIFT = REPO / "Shared" / "Contract" / "Topics.swift"
EVENT_TYPES_SWIFT = REPO / "Shared" / "Contract" / "EventType.swift"
CLOCK_SWIFT = REPO / "Shared" / "Platform" / "Clock.swift"

SERVICES = ("identity", "permissions", "binding", "deregistration")
EXECUTABLES = ("registrar",) + tuple(f"registrar-{name}" for name in SERVICES) + ("registrar-gateway",)
RUNTIME_PACKAGES = ("librdkafka1", "libpq5", "libsodium23")

# The variables the deployment documents (deploy/Dockerfile, docker-compose.yml); required even before
# the Swift code that reads them exists. Variables found in the Swift sources are added to these.
DOCUMENTED_VARIABLES = {
    "REGISTRAR_KAFKA_BROKERS",
    "REGISTRAR_DATABASE_URL",
    "REGISTRAR_TOPIC_PREFIX",
    "REGISTRAR_POLICY",
    "REGISTRAR_MIGRATIONS",
    "REGISTRAR_KAFKA_FETCH_WAIT_MS",
    "REGISTRAR_KAFKA_SESSION_TIMEOUT_MS",
    "REGISTRAR_KAFKA_MAX_POLL_INTERVAL_MS",
    "REGISTRAR_PII_KEY",
    "REGISTRAR_HASH_KEY",
    "REGISTRAR_LOG_LEVEL",
    "REGISTRAR_DB_POOL_SIZE",
    "REGISTRAR_TOPIC_PARTITIONS",
    "REGISTRAR_TOPIC_REPLICATION",
}
# Variables the code reads that production deliberately leaves unset (test-only switches, fault
# injection). Add a name here only with a comment saying why it must not be set in production.
NOT_FOR_PRODUCTION = {
    # Names the movable test clock's offset file (tests move time with it); set in production it
    # would end the 14-day cool-downs and the 31-day phone block early. Only debug builds have the
    # clock, a release build refuses to start with the variable set (check_test_clock).
    "REGISTRAR_TEST_CLOCK",
    # Fault injection for the reliability suite: the process SIGKILLs itself at a crash point.
    "REGISTRAR_CRASH_AT",
}

# Topics Registrar added after the contract's §1 table, each with the issue that added it; every
# other asyncapi channel must be a §1 topic (the contract is the shared design; it is revised apart).
TOPICS_BEYOND_CONTRACT = {
    "notifications.push": "issue 18: user notifications (push.requested), sent by the service owning the cause",
}

VARIABLE_PATTERN = re.compile(r"REGISTRAR_[A-Z0-9_]+")
# `effects.emit(.constant, ...)`; the constant may stand on the line after `emit(` (whole-file search).
EMIT_PATTERN = re.compile(r'\bemit\(\s*\.(\w+)')
# `effects.publish(topic: ..., key: ..., type: .constant, ...)`: the `type:` argument inside the call.
PUBLISH_PATTERN = re.compile(r'\bpublish\((?:[^()]|\([^()]*\))*?\btype:\s*\.(\w+)', re.S)
# `public static let accountRegistered = EventType(rawValue: "account.registered")`
EVENT_TYPE_PATTERN = re.compile(r'static let (\w+) = EventType\(rawValue:\s*"([a-z_.]+)"\)')
REPLY_CODE_PATTERN = re.compile(r'ReplyCode\(rawValue:\s*"([A-Z0-9_]+)"\)')
TOPIC_LITERAL_PATTERN = re.compile(r'"([a-z]+\.[a-z]+)"')


class Report:
    """Collects PASS / FAIL / SKIP lines and prints the closing line."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, ok: bool, name: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS  {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def skip(self, name: str, note: str) -> None:
        self.skipped += 1
        print(f"SKIP  {name}: {note}")

    def finish(self) -> int:
        if self.skipped:
            print(f"({self.skipped} check(s) skipped, see SKIP lines)")
        print(f"deploy-check: {self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


def load_yaml(path: Path, report: Report) -> dict | None:
    if not report.check(path.is_file(), f"{path.relative_to(REPO)} exists"):
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        report.check(False, f"{path.relative_to(REPO)} parses as YAML", str(error).replace("\n", " "))
        return None
    return data if report.check(isinstance(data, dict), f"{path.relative_to(REPO)} parses as a YAML mapping") else None


def short(items) -> str:
    return ", ".join(sorted(items))


# --------------------------------------------------------------------------------------------- sources


def swift_variables() -> set[str]:
    """REGISTRAR_* names the services read: the Swift sources under Shared/ and Services/, but not the
    `registrar` CLI (Services/CLI) or the load generator (Services/Bench), whose own variables belong
    to an operator's shell, not to a container (prefixes ending in _ ignored)."""
    found: set[str] = set()
    for folder in ("Shared", "Services"):
        for path in sorted((REPO / folder).rglob("*.swift")):
            if (REPO / "Services" / "CLI") in path.parents or (REPO / "Services" / "Bench") in path.parents:
                continue
            for name in VARIABLE_PATTERN.findall(path.read_text(encoding="utf-8", errors="replace")):
                if not name.endswith("_"):
                    found.add(name)
    return found


def swift_topics() -> set[str] | None:
    if not TOPICS_SWIFT.is_file():
        return None
    text = TOPICS_SWIFT.read_text(encoding="utf-8", errors="replace")
    # Ignore `//` comments so that an example in a doc comment is not taken for a topic.
    text = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    return set(TOPIC_LITERAL_PATTERN.findall(text))


def swift_sources() -> list[tuple[Path, str]]:
    """The Swift sources under Shared/ and Services/, with `//` comments removed (a doc comment that
    mentions `emit("x"` is not an emission)."""
    sources = []
    for folder in ("Shared", "Services"):
        for path in sorted((REPO / folder).rglob("*.swift")):
            text = path.read_text(encoding="utf-8", errors="replace")
            text = "\n".join(re.sub(r"^\s*//.*$", "", line) for line in text.splitlines())
            sources.append((path, text))
    return sources


def swift_emitted_event_types(sources: list[tuple[Path, str]]) -> dict[str, set[str]]:
    """Event types the services send, with the files that send them: the `EventType` constant that is
    the first argument of `emit(` and the `type:` argument of `publish(` calls, by its raw value.
    `router.event(...)` registrations are consumed types and are not counted."""
    constants = dict(EVENT_TYPE_PATTERN.findall(EVENT_TYPES_SWIFT.read_text(encoding="utf-8")))
    found: dict[str, set[str]] = {}
    for path, text in sources:
        for pattern in (EMIT_PATTERN, PUBLISH_PATTERN):
            for constant in pattern.findall(text):
                name = constants.get(constant, f"<unknown EventType .{constant}>")
                found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


def swift_reply_codes(sources: list[tuple[Path, str]]) -> dict[str, set[str]]:
    """Codes declared as `ReplyCode(rawValue: "X")`, with the files that declare them."""
    found: dict[str, set[str]] = {}
    for path, text in sources:
        for code in REPLY_CODE_PATTERN.findall(text):
            found.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return found


def asyncapi_reply_codes(document: dict) -> set[str]:
    schema = ((document.get("components") or {}).get("schemas") or {}).get("ReplyCode") or {}
    return {str(code) for code in schema.get("enum") or []}


def contract_sections(text: str) -> dict[str, str]:
    """`## N. Title` sections of CONTRACT.md by number."""
    sections: dict[str, str] = {}
    for match in re.finditer(r"^## (\d+)\.[^\n]*\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        sections[match.group(1)] = match.group(2)
    return sections


def contract_topics(section: str) -> set[str]:
    """Topics of §1's table; `a.events` … `b.events` expands to `<service>.events` for every
    `<service>.commands` of the table."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    first_cells = [row.split("|")[1].strip() for row in rows[2:] if row.count("|") >= 3]
    topics: set[str] = set()
    ranges: list[list[str]] = []
    for cell in first_cells:
        names = re.findall(r"`([a-z0-9_.-]+)`", cell)
        if len(names) == 2 and ("…" in cell or "..." in cell):
            ranges.append(names)
        else:
            topics.update(names)
    services = sorted(topic.rsplit(".", 1)[0] for topic in topics if topic.endswith(".commands"))
    for first, last in ranges:
        suffix = "." + first.rsplit(".", 1)[1]
        expanded = {service + suffix for service in services}
        topics.update(expanded if {first, last} <= expanded else {first, last})
    return topics


def contract_command_types(section: str) -> set[str]:
    """Message types in the first column of §4's command tables, plus `system.ping`."""
    types: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            types.update(re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)`", row.split("|")[1]))
    if "`system.ping`" in section:
        types.add("system.ping")
    return types


def contract_event_types(section: str) -> set[str]:
    return {name for name in re.findall(r"`([^`]+)`", section) if re.fullmatch(r"[a-z_]+(?:\.[a-z_]+)+", name)}


# --------------------------------------------------------------------------------------------- compose


def environment_names(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {str(entry).split("=", 1)[0] for entry in environment}


def environment_value(service: dict, name: str):
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return environment.get(name)
    for entry in environment:
        key, _, value = str(entry).partition("=")
        if key == name:
            return value
    return None


def healthcheck_text(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, list):
        return " ".join(str(part) for part in test)
    return str(test or "")


def check_compose(compose: dict, variables: set[str], report: Report) -> None:
    services = compose.get("services")
    if not report.check(isinstance(services, dict), "compose: has a services mapping"):
        return
    registrar = ("init",) + SERVICES
    expected = ("kafka", "postgres") + registrar
    missing = [name for name in expected if name not in services]
    report.check(not missing, "compose: services kafka, postgres, init and the four services exist", short(missing))

    for name in registrar:
        service = services.get(name) or {}
        build = service.get("build")
        dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
        report.check(
            bool(service.get("image") or build),
            f"compose: {name} has an image or build",
        )
        if build is not None:
            report.check(
                dockerfile == "deploy/Dockerfile",
                f"compose: {name} builds deploy/Dockerfile",
                f"dockerfile is {dockerfile!r}",
            )
        absent = variables - environment_names(service)
        report.check(not absent, f"compose: {name} sets every REGISTRAR_* variable", "missing " + short(absent))

    images = {str((services.get(name) or {}).get("image")) for name in registrar}
    report.check(len(images) == 1, "compose: init and the four services share one image", short(images))

    for name in expected:
        service = services.get(name) or {}
        healthcheck = service.get("healthcheck")
        if name == "init":
            # A one-shot job: the services wait for its exit code (service_completed_successfully).
            report.check(isinstance(healthcheck, dict), "compose: init declares its healthcheck (disabled: one-shot)")
            continue
        report.check(
            isinstance(healthcheck, dict) and not healthcheck.get("disable") and bool(healthcheck.get("test")),
            f"compose: {name} has a healthcheck",
        )

    for name in SERVICES:
        service = services.get(name) or {}
        command = service.get("command")
        command_text = " ".join(command) if isinstance(command, list) else str(command or "")
        report.check(
            command_text.split()[:1] == [f"registrar-{name}"],
            f"compose: {name} runs registrar-{name}",
            f"command is {command!r}",
        )
        report.check(
            re.search(rf"registrar\s+ping\s+--service\s+{name}\b", healthcheck_text(service)) is not None,
            f"compose: {name} healthcheck is `registrar ping --service {name}`",
        )
        depends = service.get("depends_on") or {}
        condition = (depends.get("init") or {}).get("condition") if isinstance(depends, dict) else None
        report.check(
            condition == "service_completed_successfully",
            f"compose: {name} depends on init completing successfully",
            f"condition is {condition!r}",
        )
        report.check(service.get("restart") == "unless-stopped", f"compose: {name} restart: unless-stopped")
        report.check(str(service.get("stop_grace_period")) == "30s", f"compose: {name} stop_grace_period: 30s")

    init = services.get("init") or {}
    init_command = init.get("command")
    init_text = " ".join(init_command) if isinstance(init_command, list) else str(init_command or "")
    report.check(
        "registrar migrate" in init_text and "registrar topics create" in init_text,
        "compose: init runs `registrar migrate` and `registrar topics create`",
    )
    depends = init.get("depends_on") or {}
    conditions = (
        {key: (value or {}).get("condition") for key, value in depends.items()} if isinstance(depends, dict) else {}
    )
    report.check(
        conditions.get("kafka") == "service_healthy" and conditions.get("postgres") == "service_healthy",
        "compose: init waits for kafka and postgres to be healthy",
        str(conditions),
    )

    kafka = services.get("kafka") or {}
    report.check(
        str(environment_value(kafka, "KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() == "false",
        "compose: kafka has auto.create.topics.enable=false",
    )
    report.check(
        "kafka-broker-api-versions.sh" in healthcheck_text(kafka),
        "compose: kafka healthcheck uses kafka-broker-api-versions.sh",
    )
    report.check(
        "pg_isready" in healthcheck_text(services.get("postgres") or {}),
        "compose: postgres healthcheck uses pg_isready",
    )


# --------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_stages(text: str) -> list[dict]:
    """Instructions per stage: [{'from': str, 'name': str|None, 'instructions': [(KEYWORD, args)]}]."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined: list[str] = []
    buffer = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            joined.append(buffer.strip())
        buffer = ""
    if buffer.strip():
        joined.append(buffer.strip())
    stages: list[dict] = []
    for instruction in joined:
        keyword, _, args = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append({"from": match.group(1), "name": match.group(2), "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((keyword, " ".join(args.split())))
        else:
            stages.append({"from": None, "name": "<preamble>", "instructions": [(keyword, args)]})
    return stages


def check_test_clock(compose: dict | None, report: Report) -> None:
    """The movable test clock cannot be switched on in the compose stack or the release image: the
    type exists only under `#if DEBUG`, a release build refuses `REGISTRAR_TEST_CLOCK`, the image is a
    release build that defines no DEBUG, and no compose service sets the variable."""
    text = CLOCK_SWIFT.read_text(encoding="utf-8")
    debug_blocks = re.findall(r"#if DEBUG\n(.*?)#(?:else|endif)", text, re.S)
    report.check(
        any("struct MovableClock" in block for block in debug_blocks)
        and text.count("struct MovableClock") == 1,
        "test clock: MovableClock is declared only inside #if DEBUG",
    )
    report.check(
        re.search(r"#else\s*\n\s*throw TestClockRefused", text) is not None,
        "test clock: a release build refuses to start with REGISTRAR_TEST_CLOCK set",
    )
    elsewhere = [
        str(path.relative_to(REPO))
        for folder in ("Shared", "Services")
        for path in (REPO / folder).rglob("*.swift")
        if path != CLOCK_SWIFT and "MovableClock" in path.read_text(encoding="utf-8", errors="replace")
    ]
    report.check(not elsewhere, "test clock: no service code names MovableClock", short(elsewhere))
    dockerfile = DOCKERFILE.read_text(encoding="utf-8") if DOCKERFILE.is_file() else ""
    report.check(
        "-c release" in dockerfile and re.search(r"-D\s*DEBUG|-c debug", dockerfile) is None,
        "test clock: the image is a release build without DEBUG",
    )
    services = (compose or {}).get("services") or {}
    setting = [name for name, service in services.items() if "REGISTRAR_TEST_CLOCK" in environment_names(service or {})]
    report.check(not setting, "test clock: no compose service sets REGISTRAR_TEST_CLOCK", short(setting))


def check_dockerfile(compose: dict | None, report: Report) -> None:
    if not report.check(DOCKERFILE.is_file(), "Dockerfile: deploy/Dockerfile exists"):
        return
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = [stage for stage in dockerfile_stages(text) if stage["from"]]
    if not report.check(len(stages) >= 2, "Dockerfile: has a build and a runtime stage", f"{len(stages)} stage(s)"):
        return
    build, runtime = stages[0], stages[-1]
    build_text = " ".join(args for _, args in build["instructions"])
    runtime_text = " ".join(args for _, args in runtime["instructions"])
    args_default = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))

    swift_image = args_default.get("SWIFT_IMAGE", "")
    report.check(
        "SWIFT_IMAGE" in build["from"] and swift_image.startswith("swift:"),
        "Dockerfile: build stage is FROM ${SWIFT_IMAGE} (a swift: image)",
        f"FROM {build['from']}, SWIFT_IMAGE={swift_image!r}",
    )
    report.check(
        all(package in build_text for package in ("librdkafka-dev", "libpq-dev", "libsodium-dev", "pkg-config")),
        "Dockerfile: build stage installs librdkafka-dev, libpq-dev, libsodium-dev, pkg-config",
    )
    report.check(
        "swift package resolve" in build_text
        and build_text.index("swift package resolve") < build_text.index("swift build"),
        "Dockerfile: dependencies are resolved before the sources are built",
    )
    report.check(
        re.search(r"swift build (?=[^;&|]*-c release)(?=[^;&|]*--static-swift-stdlib)", build_text) is not None,
        "Dockerfile: builds with `swift build -c release --static-swift-stdlib`",
    )
    runtime_image = runtime["from"]
    if runtime_image.startswith("${"):
        runtime_image = args_default.get(runtime_image.strip("${}"), runtime_image)
    report.check(
        runtime_image.startswith("debian:") and "slim" in runtime_image,
        "Dockerfile: runtime stage is a debian slim image",
        runtime_image,
    )
    apt_lines = " ".join(args for keyword, args in runtime["instructions"] if keyword == "RUN" and "apt-get" in args)
    missing = [
        package for package in RUNTIME_PACKAGES + ("ca-certificates", "tzdata") if package not in apt_lines.split()
    ]
    report.check(
        not missing,
        "Dockerfile: runtime installs librdkafka1, libpq5, libsodium23, ca-certificates, tzdata",
        short(missing),
    )

    absent = [
        name
        for name in EXECUTABLES
        if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", build_text + " " + runtime_text)
    ]
    report.check(not absent, "Dockerfile: names the five executables", short(absent))
    build_name = build["name"] or "0"
    copies = [
        args
        for keyword, args in runtime["instructions"]
        if keyword == "COPY" and f"--from={build_name}" in args and args.split()[-1].rstrip("/") == "/usr/local/bin"
    ]
    report.check(bool(copies), "Dockerfile: runtime copies the binaries from the build stage to /usr/local/bin")
    report.check(
        re.search(r"deploy/policy\.json\s+/etc/registrar/policy\.json", runtime_text) is not None,
        "Dockerfile: ships deploy/policy.json as /etc/registrar/policy.json",
    )
    report.check(
        re.search(r"deploy/migrations/?\s+/usr/share/registrar/migrations", runtime_text) is not None,
        "Dockerfile: ships deploy/migrations in /usr/share/registrar/migrations",
    )
    environment = " ".join(args for keyword, args in runtime["instructions"] if keyword == "ENV")
    report.check(
        "REGISTRAR_POLICY=/etc/registrar/policy.json" in environment
        and "REGISTRAR_MIGRATIONS=/usr/share/registrar/migrations" in environment,
        "Dockerfile: sets REGISTRAR_POLICY and REGISTRAR_MIGRATIONS",
    )
    users = [args for keyword, args in runtime["instructions"] if keyword == "USER"]
    report.check(
        bool(users) and users[-1].split(":")[0] not in ("root", "0"),
        "Dockerfile: runtime runs as a non-root user",
        f"USER {users[-1] if users else '(none)'}",
    )
    report.check(
        re.search(r"useradd\b.*\bregistrar\b", runtime_text) is not None, "Dockerfile: creates the `registrar` user"
    )
    for source in ("deploy/policy.json", "deploy/migrations"):
        if (REPO / source).exists():
            report.check(True, f"Dockerfile: {source} (copied into the image) exists")
        else:
            report.skip(f"Dockerfile: {source} exists", "not written yet; `docker build` fails until it exists")

    if compose and isinstance(compose.get("services"), dict):
        identity = compose["services"].get("identity") or {}
        report.check(
            environment_value(identity, "REGISTRAR_POLICY") == "/etc/registrar/policy.json"
            and environment_value(identity, "REGISTRAR_MIGRATIONS") == "/usr/share/registrar/migrations",
            "compose: REGISTRAR_POLICY / REGISTRAR_MIGRATIONS match the image's paths",
        )

    if report.check(DOCKERIGNORE.is_file(), ".dockerignore exists"):
        ignored = {line.strip().strip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
        missing = [entry for entry in (".build", ".stack", ".venv", ".git") if entry not in ignored]
        report.check(not missing, ".dockerignore excludes .build, .stack, .venv, .git", short(missing))


# --------------------------------------------------------------------------------------------- AsyncAPI


def resolve(document: dict, reference: str):
    if not reference.startswith("#/"):
        raise KeyError(reference)
    node = document
    for part in reference[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def references(node, path="#"):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield path, node["$ref"]
        for key, value in node.items():
            yield from references(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from references(value, f"{path}/{index}")


def check_asyncapi(document: dict, report: Report) -> tuple[set[str], set[str]]:
    """Structural checks; returns (channel addresses, message names)."""
    report.check(str(document.get("asyncapi")) == "3.0.0", "asyncapi: version 3.0.0")
    info = document.get("info") or {}
    report.check(bool(info.get("title")) and bool(info.get("version")), "asyncapi: info has title and version")

    unresolved = []
    for path, reference in references(document):
        try:
            resolve(document, reference)
        except (KeyError, TypeError, IndexError):
            unresolved.append(f"{reference} (at {path})")
    report.check(not unresolved, "asyncapi: every $ref resolves", "; ".join(unresolved[:5]))

    channels = document.get("channels") or {}
    addresses: dict[str, str] = {}
    for key, channel in channels.items():
        address = (channel or {}).get("address")
        if address in addresses:
            report.check(False, f"asyncapi: address {address} is used once", f"{addresses[address]} and {key}")
        addresses[address] = key
    report.check(bool(channels) and None not in addresses, "asyncapi: every channel has an address")

    names: set[str] = set()
    nameless = []
    for key, message in ((document.get("components") or {}).get("messages") or {}).items():
        if message.get("name"):
            names.add(message["name"])
        else:
            nameless.append(key)
        if "payload" not in message:
            nameless.append(f"{key} (no payload)")
    report.check(not nameless, "asyncapi: every message has a name and a payload", short(nameless))

    operations = document.get("operations") or {}
    problems = []
    used_channels = set()
    for key, operation in operations.items():
        if operation.get("action") not in ("send", "receive"):
            problems.append(f"{key}: action {operation.get('action')!r}")
        channel = (operation.get("channel") or {}).get("$ref", "")
        used_channels.add(channel)
        for message in operation.get("messages") or []:
            if not str(message.get("$ref", "")).startswith(channel + "/messages/"):
                problems.append(f"{key}: message {message.get('$ref')} is not one of {channel}'s")
        reply = operation.get("reply")
        if reply:
            reply_channel = (reply.get("channel") or {}).get("$ref", "")
            for message in reply.get("messages") or []:
                if not str(message.get("$ref", "")).startswith(reply_channel + "/messages/"):
                    problems.append(f"{key}: reply message {message.get('$ref')} is not one of {reply_channel}'s")
    report.check(not problems, "asyncapi: operations use their channel's messages", "; ".join(problems[:5]))
    unused = [key for key in channels if f"#/channels/{key}" not in used_channels]
    report.check(not unused, "asyncapi: every channel has an operation", short(unused))
    return set(addresses) - {None}, names


# --------------------------------------------------------------------------------------------- main


def check_openapi(report: Report) -> None:
    """docs/openapi.yaml is what scripts/openapi.py generates from the gateway's routes and the
    AsyncAPI document, and every route names a command of its service's channel (issue 19)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import openapi as generator  # noqa: E402 - the generator lives beside this script

    document, problems = generator.build()
    report.check(
        not problems, "openapi: every gateway route is a command of its service's channel in asyncapi",
        "; ".join(problems),
    )
    report.check(
        len(document["paths"]) > 0, "openapi: the gateway's route table (Routes.swift) parses", "no Route(...) found"
    )
    current = generator.OPENAPI.read_text(encoding="utf-8") if generator.OPENAPI.is_file() else ""
    report.check(
        current == generator.render(document),
        "openapi: docs/openapi.yaml equals the generated document (python3 scripts/openapi.py)",
    )


def main() -> int:
    report = Report()
    print(f"repository: {REPO}")

    variables = swift_variables()
    print(f"REGISTRAR_* variables in Swift sources: {short(variables) or '(none yet)'}")
    required = (variables | DOCUMENTED_VARIABLES) - NOT_FOR_PRODUCTION
    exempt = variables & NOT_FOR_PRODUCTION
    if exempt:
        print(f"not required in compose (test-only, see NOT_FOR_PRODUCTION): {short(exempt)}")

    compose = load_yaml(COMPOSE, report)
    if compose is not None:
        check_compose(compose, required, report)
    check_dockerfile(compose, report)
    check_test_clock(compose, report)

    check_openapi(report)

    document = load_yaml(ASYNCAPI, report)
    addresses: set[str] = set()
    names: set[str] = set()
    if document is not None:
        addresses, names = check_asyncapi(document, report)

    topics = swift_topics()
    if topics is None:
        report.skip(
            "topics: Topics.swift <-> asyncapi channels", f"{TOPICS_SWIFT.relative_to(REPO)} does not exist yet"
        )
    elif document is not None:
        report.check(bool(topics), "topics: Topics.swift names topics", 'no string literal like "a.b" found')
        report.check(
            topics <= addresses, "topics: every Topics.swift topic is an asyncapi channel", short(topics - addresses)
        )
        report.check(
            addresses <= topics, "topics: every asyncapi channel is a Topics.swift topic", short(addresses - topics)
        )

    if document is not None:
        sources = swift_sources()
        emitted = swift_emitted_event_types(sources)
        report.check(bool(emitted), "events: the Swift sources emit event types", "no emit(\"...\") found")
        missing = {name: files for name, files in emitted.items() if name not in names}
        report.check(
            not missing,
            "events: every event type emitted in the Swift sources is an asyncapi message name",
            "; ".join(f"{name} ({short(files)})" for name, files in sorted(missing.items())),
        )
        codes = swift_reply_codes(sources)
        enum = asyncapi_reply_codes(document)
        report.check(bool(codes) and bool(enum), "codes: ReplyCode values found in Swift and in asyncapi")
        missing = {code: files for code, files in codes.items() if code not in enum}
        report.check(
            not missing,
            "codes: every ReplyCode(rawValue:) of the Swift sources is in the asyncapi ReplyCode enum",
            "; ".join(f"{code} ({short(files)})" for code, files in sorted(missing.items())),
        )

    if not CONTRACT.is_file():
        report.skip("contract: topics and command types in asyncapi", f"{CONTRACT} not found")
    elif document is not None:
        sections = contract_sections(CONTRACT.read_text(encoding="utf-8"))
        contract_topic_set = contract_topics(sections.get("1", ""))
        report.check(len(contract_topic_set) >= 11, "contract: §1 topic table parsed", short(contract_topic_set))
        report.check(
            contract_topic_set <= addresses,
            "contract: every §1 topic is an asyncapi channel",
            short(contract_topic_set - addresses),
        )
        report.check(
            addresses - set(TOPICS_BEYOND_CONTRACT) <= contract_topic_set,
            "contract: every asyncapi channel is a §1 topic (or in TOPICS_BEYOND_CONTRACT)",
            short(addresses - set(TOPICS_BEYOND_CONTRACT) - contract_topic_set),
        )
        commands = contract_command_types(sections.get("4", ""))
        report.check(len(commands) >= 20, "contract: §4 command tables parsed", f"{len(commands)} types")
        report.check(
            commands <= names, "contract: every §4 command type is an asyncapi message", short(commands - names)
        )
        events = contract_event_types(sections.get("5", ""))
        report.check(bool(events), "contract: §5 event list parsed")
        report.check(events <= names, "contract: every §5 event type is an asyncapi message", short(events - names))

    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
