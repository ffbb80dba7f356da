"""Files in group_vars/ and host_vars/ that no host reads, or that say nothing.

A group file whose name no inventory declares is an error (a typo such as `group_vars/lama.yml`
would otherwise be skipped without a word, and its engines never deployed). A host file for a
host no inventory lists, and an empty file, are warnings: a retired unit's settings or a file
kept for later are harmless, but the user should know that they apply to nothing.
"""

import ast
import difflib
from pathlib import Path

from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.loader import display_path, read_yaml

SUFFIXES = (".yml", ".yaml")


def declared_names(inventory_dir: Path) -> tuple[set[str], set[str]]:
    """Groups and hosts of every inventory file in a folder, read without running them: module-level
    lists are groups (their file's name is one too), their strings or tuples' first strings hosts."""
    groups, hosts = set(), set()
    for inventory in inventory_dir.glob("*.py"):
        try:
            tree = ast.parse(inventory.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        groups.add(inventory.stem)
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
                groups.update(t.id for t in node.targets if isinstance(t, ast.Name) and not t.id.startswith("_"))
                for entry in node.value.elts:
                    first = entry.elts[0] if isinstance(entry, ast.Tuple) and entry.elts else entry
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        hosts.add(first.value)
    return groups, hosts


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def stray_files(config_dir: Path, inventory_dir: Path, groups: set[str], hosts: set[str]) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """(errors, warnings) about the YAML files of config_dir; `groups` and `hosts` are the loaded
    inventory's, added to what its sibling inventories declare."""
    declared_groups, declared_hosts = declared_names(inventory_dir)
    groups, hosts = groups | declared_groups | {"all"}, hosts | declared_hosts
    errors: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    for folder, known, what in (("group_vars", groups, "group"), ("host_vars", hosts, "host")):
        for path in sorted(p for p in (config_dir / folder).glob("*") if p.suffix in SUFFIXES):
            label = display_path(path)
            if path.stem not in known:
                where = display_path(inventory_dir)
                reason = f"no inventory in {where}/ declares a {what} {path.stem!r}, so it applies to no host{_hint(path.stem, known)}"
                (errors if what == "group" else warnings).append(ConfigIssue(label, "", reason))
                continue
            try:
                empty = not read_yaml(path, label)
            except ConfigError:
                continue  # reported with the hosts that read it
            if empty:
                warnings.append(ConfigIssue(label, "", "is empty: it sets nothing"))
    return errors, warnings
