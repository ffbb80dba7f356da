"""One name per machine, one machine per name: what pyinfra would otherwise get wrong without a word.

A host listed twice in a group, or given different connection data in two groups, would be deployed
with whichever entry pyinfra met last; two names for one address and port would deploy two
configurations to one machine. Both are refused, naming the inventory's lines.
"""

import ast
from pathlib import Path
from typing import Any

from thorfleet.fleet.errors import ConfigIssue

SSH_PORT = 22  # pyinfra's default for `ssh_port`


def _entry_lines(source: str) -> dict[tuple[str, str], list[int]]:
    """(group, host) -> the lines of the inventory where the group's list names the host: for
    literal lists only (a list built by code has no line per host)."""
    lines: dict[tuple[str, str], list[int]] = {}
    for statement in ast.parse(source).body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.List)):
            continue
        for target in statement.targets:
            if not isinstance(target, ast.Name):
                continue
            for element in statement.value.elts:
                head = element.elts[0] if isinstance(element, ast.Tuple) and element.elts else element
                if isinstance(head, ast.Constant) and isinstance(head.value, str):
                    lines.setdefault((target.id, head.value), []).append(element.lineno)
    return lines


def _where(lines: list[int]) -> str:
    return f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""


def _split(entry: str | tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    return (entry[0], entry[1]) if isinstance(entry, tuple) else (entry, None)


def identity_problems(inventory: Path, groups: dict[str, list[Any]]) -> list[ConfigIssue]:
    """Hosts listed twice in one group, given two different connections, or sharing one address and port."""
    try:
        lines = _entry_lines(inventory.read_text(encoding="utf-8-sig"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        lines = {}  # pyinfra's rules read it already; without its text, problems are named without lines
    issues: list[ConfigIssue] = []
    connection: dict[str, tuple[str, dict[str, Any]]] = {}  # host -> (the group that gave its data, the data)
    for group, entries in groups.items():
        names = [_split(entry)[0] for entry in entries]
        for name in sorted({n for n in names if names.count(n) > 1}):
            issues.append(ConfigIssue(str(inventory), group, f"lists {name!r} twice{_where(lines.get((group, name), []))}: "
                                                            "list each host once"))
        for name, data in map(_split, entries):
            first = connection.setdefault(name, (group, data or {}))
            if data is not None and first[0] != group and first[1] != data:
                at = _where(lines.get((first[0], name), []) + lines.get((group, name), []))
                issues.append(ConfigIssue(str(inventory), group, f"gives {name!r} other connection data than group "
                                                                f"{first[0]!r}{at}: give it once, in one group"))
            elif data is not None and not first[1]:
                connection[name] = (group, data)
    machines: dict[tuple[str, str], list[str]] = {}
    for name, (_, data) in connection.items():
        if not name.startswith("@"):  # @local, @docker/...: pyinfra's other connectors
            machines.setdefault((str(data.get("ssh_hostname", name)), str(data.get("ssh_port", SSH_PORT))), []).append(name)
    for (address, port), names in machines.items():
        if len(names) > 1:
            named = sorted(line for (_, host), found in lines.items() if host in names for line in found)
            issues.append(ConfigIssue(str(inventory), "", f"{' and '.join(map(repr, names))} are one machine, {address}:{port}"
                                                          f"{_where(named)}: pyinfra would deploy both configurations to it; "
                                                          "give each machine one name"))
    return issues
