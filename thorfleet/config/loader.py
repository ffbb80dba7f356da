"""Read group_vars/host_vars YAML, merge it in precedence order and validate it.

Precedence, lowest first: `group_vars/all.yml`, then `group_vars/<group>.yml` for each of the
host's groups in the order the inventory file declares them (the group pyinfra names after the
inventory file, e.g. `lab` for `inventory/lab.py`, comes last), then `host_vars/<host>.yml`.
Mappings are deep-merged; lists and scalars are replaced; `null` removes a key set by an
earlier file (for example an engine defined for a whole group).
"""

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from thorfleet.config import strict_yaml
from thorfleet.config.errors import ConfigError, ConfigIssue
from thorfleet.config.schema import HostConfig, all_field_names
from thorfleet.core.types import KeyProblem
from thorfleet.roles.engines.kinds import KINDS, kind_name

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    label: str  # as shown in errors: group_vars/llm.yml
    data: dict


def read_yaml(path: Path, label: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([ConfigIssue(label, "", f"cannot be read: {err.strerror}")])
    except UnicodeDecodeError as err:
        raise ConfigError([ConfigIssue(label, "", f"is not UTF-8 text (byte {err.start} is {err.object[err.start]:#04x}): "
                                                   "save it as UTF-8")])
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError([ConfigIssue(label, "", f"is not valid YAML: {where}{problem}")])
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(label, "", f"must be a mapping of keys, not a {type(data).__name__}")])
    return data


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_layers(config_dir: Path, groups: list[str], host: str) -> list[Layer]:
    """The YAML files that apply to a host, lowest precedence first; missing files are skipped."""
    candidates = [("group_vars", "all")] + [("group_vars", g) for g in groups if g != "all"] + [("host_vars", host)]
    layers = []
    for folder, name in candidates:
        for suffix in (".yml", ".yaml"):
            path = config_dir / folder / f"{name}{suffix}"
            if path.is_file():
                label = display_path(path)
                layers.append(Layer(label, read_yaml(path, label)))
    return layers


def merge_layers(layers: list[Layer]) -> tuple[dict, dict[KeyPath, str]]:
    """Deep-merge the layers; also return which file set each key (for error messages)."""
    merged: dict = {}
    origin: dict[KeyPath, str] = {}

    def merge(target: dict, source: dict, prefix: KeyPath, label: str) -> None:
        for key, value in source.items():
            path = prefix + (str(key),)
            if value is None:
                target.pop(key, None)
                for known in [p for p in origin if p[: len(path)] == path]:
                    del origin[known]
                continue
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                origin[path] = label
                merge(target[key], value, path, label)
            else:
                target[key] = _copy(value)
                for known in [p for p in origin if p[: len(path)] == path]:
                    del origin[known]
                origin[path] = label
                _mark(value, path, label, origin)

    for layer in layers:
        merge(merged, layer.data, (), layer.label)
    return merged, origin


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mark(value, path: KeyPath, label: str, origin: dict[KeyPath, str]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            origin[path + (str(key),)] = label
            _mark(sub, path + (str(key),), label, origin)


def file_for(path: KeyPath, origin: dict[KeyPath, str]) -> str:
    """The file that set a key, or the one that set its nearest parent, or that set keys below it."""
    for end in range(len(path), 0, -1):
        if path[:end] in origin:
            return origin[path[:end]]
    below = [label for p, label in origin.items() if p[: len(path)] == path]
    return below[-1] if below else "(defaults)"


# Pydantic adds union members and discriminator tags to error locations; they are not keys.
_TAG_RE = re.compile(r"^(int|str|float|bool|none|list\[.*|dict\[.*|function-.*|constrained-.*|.*\[.*\]|"
                     + "|".join(re.escape(kind_name(k)) for k in KINDS) + ")$")


def _key_path(loc: tuple, data: dict) -> KeyPath:
    path: list[str] = []
    node = data
    for part in loc:
        part = str(part)
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            path.append(part)
            node = node[int(part)]
        elif _TAG_RE.match(part):
            continue
        else:
            path.append(part)
            node = None
    return tuple(path)


def _reason(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, all_field_names(), n=1, cutoff=0.75)
        return f"unknown key{f'; did you mean {close[0]!r}?' if close else ''}"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "union_tag_not_found":
        return f"has no {error['ctx']['discriminator']}: on this host no file defines the whole entry, only some of its keys"
    message = re.sub(r" or instance of \w+", "", error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def issues_from_validation(err: ValidationError, data: dict, origin: dict[KeyPath, str], host: str) -> list[ConfigIssue]:
    by_path: dict[KeyPath, list[dict]] = {}
    for error in err.errors():
        path = _key_path(error["loc"], data)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, KeyProblem):
            path += (cause.key,)
        by_path.setdefault(path, []).append(error)
    issues = []
    for path, errors in by_path.items():
        # For a union (`int | str`), the member-specific check says more than "not a valid integer".
        specific = [e for e in errors if e["type"] in ("value_error", "extra_forbidden", "missing")] or errors
        reasons = list(dict.fromkeys(_reason(e) for e in specific))
        issues.append(ConfigIssue(file_for(path, origin), ".".join(path), "; ".join(reasons), (host,)))
    return issues


def load_host_config(config_dir: Path, groups: list[str], host: str) -> HostConfig:
    """Merge and validate one host's configuration; raise ConfigError listing every problem."""
    layers = find_layers(config_dir, groups, host)
    data, origin = merge_layers(layers)
    try:
        config = HostConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(issues_from_validation(err, data, origin, host))
    problems = config.problems()
    if problems:
        raise ConfigError([
            ConfigIssue(file_for(path, origin), ".".join(path), reason, (host,)) for path, reason in problems
        ])
    return config
