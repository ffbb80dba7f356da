"""`thorfleet tune --apply`: the pick merged into the host's host_vars file, keeping its comments, its
order and every other key (ruamel.yaml's round trip); the project is loaded again, and the file put back
as it was if that fails. The next deploy (or rollout) applies it."""

import os
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from thorfleet.fleet import ConfigError, load_fleet
from thorfleet.fleet.strict_yaml import StrictLoader


class NotApplied(Exception):
    """The patch was not merged (the message says why); the file is as it was."""


def merged(text: str, engine: str, args: dict[str, Any], where: str) -> str:
    """`text` (a host_vars file) with engines.<engine>.args holding `args`, the rest as it was."""
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(text) if text.strip() else None
    except YAMLError as err:
        raise NotApplied(f"{where} is not valid YAML ({str(err).splitlines()[0]}): fix it first") from None
    data = CommentedMap() if data is None else data
    node = data
    for key in ("engines", engine, "args"):
        if not isinstance(node, dict):
            raise NotApplied(f"{where}: the value above {key!r} is not a mapping")
        if node.get(key) is None:
            node[key] = CommentedMap()
        node = node[key]
    if not isinstance(node, dict):
        raise NotApplied(f"{where}: engines.{engine}.args is not a mapping")
    node.update({key: _as_written(value) for key, value in args.items()})
    out = StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _as_written(value: Any) -> Any:
    """A string that thorfleet's loader, or a YAML 1.1 reader (`on` is true there), would read as
    something else is quoted."""
    if isinstance(value, str) and (yaml.load(value, Loader=StrictLoader) != value or yaml.safe_load(value) != value):
        return SingleQuotedScalarString(value)
    return value


def apply_patch(inventory: Path, config_dir: Path, host: str, engine: str, args: dict[str, Any]) -> tuple[Path, bool]:
    """(the host_vars file, whether it changed)."""
    path = config_dir / "host_vars" / f"{host}.yml"
    try:
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        after = merged(before, engine, args, str(path))
        if after == before:
            return path, False
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, after)
    except (OSError, UnicodeDecodeError) as err:
        raise NotApplied(f"{path} cannot be read or written: {getattr(err, 'strerror', None) or err}") from None
    try:
        load_fleet(inventory, secrets=False)
    except ConfigError as err:
        if before:
            _write(path, before)
        else:
            path.unlink()
        raise NotApplied(f"with the patch the project does not load, so {path} is as it was: {err}") from None
    return path, True


def _write(path: Path, text: str) -> None:
    """Never half-written: a file beside it, then renamed over it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
