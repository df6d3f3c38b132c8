#!/usr/bin/env python3
"""The module graph: which of Registrar's modules each folder may import (README, "Architecture").
Prints one line per import that breaks it, nothing when the tree follows it. Run by scripts/lint."""
import pathlib
import re
import sys

OURS = {
    "CRdKafka", "CLibPQ", "CSodium", "Contract", "Platform", "Kafka", "Postgres", "Messaging", "Directory",
    "IdentityCore", "PermissionsCore", "BindingCore", "DeregistrationCore", "TestSupport",
}
SERVICES = ["Identity", "Permissions", "Binding", "Deregistration"]
CORE = {"Contract", "Platform", "Postgres", "Messaging", "Directory"}

# (folder prefix, modules it may import); the longest matching prefix decides.
RULES = [
    ("Shared/Contract/", set()),
    ("Shared/Platform/", set()),
    ("Shared/Platform/Sodium/", {"CSodium"}),
    ("Shared/Kafka/", set()),
    ("Shared/Kafka/RDKafka/", {"CRdKafka"}),
    ("Shared/Postgres/", set()),
    ("Shared/Postgres/LibPQ/", {"CLibPQ"}),
    ("Shared/Messaging/", {"Contract", "Platform", "Kafka", "Postgres"}),
    ("Shared/Directory/", {"Contract", "Platform", "Postgres", "Messaging"}),
    ("Services/CLI/", {"Contract", "Platform", "Kafka", "Postgres", "Messaging", "Directory"}),
    ("Services/Bench/", {"Contract", "Platform", "Kafka", "Postgres", "Messaging", "Directory"}),
    ("Tests/Support/", {"Contract", "Platform", "Kafka", "Postgres", "Messaging", "Directory"}),
    ("Tests/SharedTests/", {"Contract", "Platform", "Kafka", "Postgres", "Messaging", "Directory", "TestSupport"}),
    ("Tests/IntegrationTests/", OURS - {"CRdKafka", "CLibPQ", "CSodium"}),
]
for name in SERVICES:
    core = f"{name}Core"
    # A service's core: the shared runtime and read models, never Kafka, never another service.
    RULES.append((f"Services/{name}/{core}/", CORE))
    # Its rules: pure functions over values and the policy.
    RULES.append((f"Services/{name}/{core}/Rules/", {"Contract", "Platform"}))
    RULES.append((f"Services/{name}/Main/", {core, "Contract", "Platform", "Messaging"}))
    RULES.append((f"Tests/{name}Tests/", {core, "Contract", "Platform", "Messaging", "TestSupport"}))

IMPORT = re.compile(r"^\s*(?:@testable\s+|@preconcurrency\s+)?import\s+(\w+)", re.M)


def allowed(path: str) -> set[str] | None:
    matches = [(prefix, mods) for prefix, mods in RULES if path.startswith(prefix)]
    return max(matches, key=lambda m: len(m[0]))[1] if matches else None


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    broken = 0
    for file in sorted(root.glob("**/*.swift")):
        path = file.relative_to(root).as_posix()
        if path.startswith((".build", ".stack")) or "/.build" in path:
            continue
        may = allowed(path)
        if may is None:
            continue
        for module in IMPORT.findall(file.read_text()):
            if module in OURS and module not in may:
                print(f"{path}: imports {module}")
                broken += 1
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
