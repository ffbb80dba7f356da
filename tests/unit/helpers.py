"""Write a small YAML tree and load one host from it."""

from pathlib import Path

import yaml

from thorfleet.config import load_host_config


def write_tree(root: Path, files: dict[str, object]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
    return root


def load(root: Path, files: dict, groups=("all",), host="thor-01", secrets=False):
    write_tree(root, files)
    return load_host_config(root, list(groups), host, secrets)
