"""Files in group_vars/ and host_vars/ that no host reads, or that say nothing.

Each group or host has `<name>.yml` (or `.yaml`, never both) and, Ansible's way, may have a
`<name>/` folder whose YAML files are merged after it in lexical order (loader.vars_files).

A group file whose name no inventory declares is an error (a typo such as `group_vars/lama.yml`
would otherwise be skipped without a word, and its engines never deployed). A host file for a
host no inventory lists, and an empty file, are warnings: a retired unit's settings or a file
kept for later are harmless, but the user should know that they apply to nothing.
"""

import ast
import difflib
from pathlib import Path

from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.loader import SUFFIXES, display_path, read_yaml


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


def _duplicate_suffixes(folder: Path) -> list[ConfigIssue]:
    both = [folder / f"{stem}.yml" for stem in sorted({p.stem for p in folder.glob("*.yaml")}) if (folder / f"{stem}.yml").exists()]
    return [ConfigIssue(display_path(path), "", f"{path.with_suffix('.yaml').name} is also there: both would be read, "
                                                "in an order nobody chose; keep one") for path in both]


def stray_files(config_dir: Path, inventory_dir: Path, groups: set[str], hosts: set[str]) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """(errors, warnings) about what lies in group_vars/ and host_vars/ of config_dir; `groups` and
    `hosts` are the loaded inventory's, added to what its sibling inventories declare."""
    declared_groups, declared_hosts = declared_names(inventory_dir)
    groups, hosts = groups | declared_groups | {"all"}, hosts | declared_hosts
    errors: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    for folder_name, known, what in (("group_vars", groups, "group"), ("host_vars", hosts, "host")):
        folder = config_dir / folder_name
        if not folder.is_dir():
            continue
        errors += _duplicate_suffixes(folder)
        for entry in sorted(folder.iterdir()):
            name = entry.stem if entry.suffix in SUFFIXES and not entry.is_dir() else entry.name
            if name.startswith("."):
                continue  # .gitkeep, an editor's swap file
            if name not in known and (entry.is_dir() or entry.suffix in SUFFIXES):
                where = display_path(inventory_dir)
                reason = f"no inventory in {where}/ declares a {what} {name!r}, so it applies to no host{_hint(name, known)}"
                (errors if what == "group" else warnings).append(ConfigIssue(display_path(entry), "", reason))
                continue
            found = _unread(entry, sorted(entry.rglob("*")) if entry.is_dir() else [entry])
            errors += found[0]
            warnings += found[1]
    return errors, warnings


def _unread(entry: Path, paths: list[Path]) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """(errors, warnings) for the paths of one group's or host's entry: links that lead nowhere,
    files that are not YAML (never read), and YAML files that say nothing."""
    errors, warnings = [], []
    for path in paths:
        label = display_path(path)
        if path.is_symlink() and not path.exists():
            errors.append(ConfigIssue(label, "", "is a link that leads nowhere (its target is missing, or links loop back): "
                                                 "it cannot be read; fix the link or remove it"))
        elif path.is_dir() and path.is_symlink():
            warnings.append(ConfigIssue(label, "", "is a link to a folder, which is not followed: its files are not read"))
        elif path.is_dir() or path.name.startswith("."):
            continue
        elif path.suffix not in SUFFIXES:
            warnings.append(ConfigIssue(label, "", f"is not read: only .yml and .yaml files are ({entry.name} "
                                                   "applies without it)"))
        else:
            try:
                empty = not read_yaml(path, label)
            except ConfigError:
                continue  # reported with the hosts that read it
            if empty:
                warnings.append(ConfigIssue(label, "", "is empty: it sets nothing"))
    return errors, warnings
