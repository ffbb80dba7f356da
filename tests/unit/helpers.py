"""Write a small YAML tree and load one host from it."""

from pathlib import Path

import yaml

from thorfleet.fleet import load_host_config


def write_tree(root: Path, files: dict[str, object]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
    return root


def load(root: Path, files: dict, groups=("all",), host="thor-01", secrets=False):
    write_tree(root, files)
    return load_host_config(root, list(groups), host, secrets)


def fleet_of(root: Path, files: dict, groups: dict[str, list[str]] | None = None, secrets=False, memory_plan=True):
    """The fleet view of a small project: `files` (YAML), and an inventory of `groups` (default: thor-01 in `llm`),
    its host on a loopback port where nothing listens."""
    from thorfleet.fleet import load_fleet

    lines = ["from thorfleet.inventory import attach_config", ""]
    groups = groups or {"llm": ["thor-01"]}
    numbers = {h: index for index, h in enumerate(dict.fromkeys(h for hosts in groups.values() for h in hosts), 1)}
    for group, hosts in groups.items():
        entries = ", ".join(f'("{h}", {{"ssh_hostname": "127.0.0.{numbers[h]}", "ssh_port": 9}})' for h in hosts)
        lines.append(f"{group} = [{entries}]")
    write_tree(root, {**files, "inventory/fleet.py": "\n".join(lines + ["", "attach_config(globals())", ""])})
    return load_fleet(root / "inventory" / "fleet.py", secrets, memory_plan)
