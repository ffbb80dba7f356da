"""Read group_vars/host_vars YAML, merge it in precedence order and validate it.

Precedence, lowest first: `group_vars/all.yml`, then `group_vars/<group>.yml` for each of the
host's groups in the order the inventory file declares them (the group pyinfra names after the
inventory file, e.g. `lab` for `inventory/lab.py`, comes last), then `host_vars/<host>.yml`.
Mappings are deep-merged; lists and scalars are replaced; `null` removes a key set by an
earlier file (for example an engine defined for a whole group).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from thorfleet.core.role import Problem
from thorfleet.core.types import KeyProblem, SecretUnavailable
from thorfleet.fleet import strict_yaml
from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.schema import HostChecks, HostConfig, all_field_names
from thorfleet.roles.engines.kinds import KINDS, kind_name

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    label: str  # as shown in errors: group_vars/llm.yml
    data: dict[str, Any]


MAX_FILE_BYTES = 1 << 20  # a configuration file is a few KB; a larger one is refused before it is parsed


def read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([ConfigIssue(label, "", f"is {size / (1 << 20):.1f} MiB: a configuration file may hold at most "
                                                       f"{MAX_FILE_BYTES >> 20} MiB (split it, or remove what is not configuration)")])
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, as some editors save, is not content
    except OSError as err:
        raise ConfigError([ConfigIssue(label, "", f"cannot be read: {err.strerror}")])
    except UnicodeDecodeError as err:
        raise ConfigError([ConfigIssue(label, "", f"is not UTF-8 text (byte {err.start} is {err.object[err.start]:#04x}): "
                                                   "save it as UTF-8")])
    try:
        data = strict_yaml.load(text)
    except RecursionError:
        raise ConfigError([ConfigIssue(label, "", "is nested too deeply to be a configuration (lists or mappings inside "
                                                  "each other thousands of levels down)")]) from None
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
    try:  # the parent resolved, the name kept: a link is named as it stands, even one that loops
        return str((path.absolute().parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


SUFFIXES = (".yml", ".yaml")


def vars_files(folder: Path, name: str) -> list[Path]:
    """The files of one group or host in group_vars/ or host_vars/, in the order they are merged: its
    `<name>.yml` (or `.yaml`), then, Ansible's way, the YAML files under a `<name>/` folder in
    lexical order of their paths."""
    files = [folder / f"{name}{suffix}" for suffix in SUFFIXES if (folder / f"{name}{suffix}").is_file()]
    below = folder / name
    if below.is_dir():
        files += sorted(p for p in below.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return files


def find_layers(config_dir: Path, groups: list[str], host: str) -> list[Layer]:
    """The YAML files that apply to a host, lowest precedence first; missing files are skipped."""
    candidates = [("group_vars", "all")] + [("group_vars", g) for g in groups if g != "all"] + [("host_vars", host)]
    layers = []
    for folder, name in candidates:
        for path in vars_files(config_dir / folder, name):
            label = display_path(path)
            layers.append(Layer(label, read_yaml(path, label)))
    return layers


def merge_layers(layers: list[Layer]) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """Deep-merge the layers; also return which file set each key (for error messages)."""
    merged: dict[str, Any] = {}
    origin: dict[KeyPath, str] = {}

    def merge(target: dict[str, Any], source: dict[str, Any], prefix: KeyPath, label: str) -> None:
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


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mark(value: Any, path: KeyPath, label: str, origin: dict[KeyPath, str]) -> None:
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


def _key_path(loc: tuple[Any, ...], data: dict[str, Any]) -> KeyPath:
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
            node = None  # type: ignore[assignment]  # past the data: the rest of the path is the model's
    return tuple(path)


def _reason(error: ErrorDetails) -> str:
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


def issues_from_validation(err: ValidationError, data: dict[str, Any], origin: dict[KeyPath, str], host: str) -> list[ConfigIssue]:
    by_path: dict[KeyPath, list[ErrorDetails]] = {}
    for error in err.errors():
        path = _key_path(error["loc"], data)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, KeyProblem):
            path += tuple(cause.key.split("."))
        by_path.setdefault(path, []).append(error)
    issues = []
    for path, errors in by_path.items():
        # For a union (`int | str`), the member-specific check says more than "not a valid integer".
        specific = [e for e in errors if e["type"] in ("value_error", "extra_forbidden", "missing")] or errors
        reasons = list(dict.fromkeys(_reason(e) for e in specific))
        issues.append(ConfigIssue(file_for(path, origin), ".".join(path), "; ".join(reasons), (host,)))
    return issues


def load_host_config(config_dir: Path, groups: list[str], host: str, secrets: bool = False) -> HostChecks:
    """Merge and validate one host's configuration; raise ConfigError listing every problem."""
    return load_host(config_dir, groups, host, secrets)[0]


def load_host(config_dir: Path, groups: list[str], host: str, secrets: bool = False,
              model: type[HostChecks] = HostConfig) -> tuple[HostChecks, Origin]:
    """One host's validated configuration, and which file set each key (so that a problem the fleet
    finds later still names its file); raise ConfigError listing every problem.

    With `secrets`, every secret the host needs is also read on the controller now, so that an
    unset variable or an unreadable file stops everything before a connection (the value is kept
    nowhere: the deploy reads it again where it writes it)."""
    layers = find_layers(config_dir, groups, host)
    data, origin = merge_layers(layers)
    try:
        config = model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(redacted(issues_from_validation(err, data, origin, host), secret_values(data)))
    problems = config.problems() + (unreadable_secrets(config) if secrets else [])
    if problems:
        raise ConfigError(redacted(issues_at(problems, origin, host), secret_values(data)))
    return config, Origin(origin, secret_values(data))


@dataclass(frozen=True)
class Origin:
    """Which file set each key of one host's configuration, and the secrets no message may show."""

    files: dict[KeyPath, str]
    secrets: set[str]

    def issues(self, problems: Iterable[Problem], host: str) -> list[ConfigIssue]:
        return redacted(issues_at(problems, self.files, host), self.secrets)


def issues_at(problems: Iterable[Problem], origin: dict[KeyPath, str], host: str) -> list[ConfigIssue]:
    """(key path, reason) problems of one host as issues naming the file that set each key."""
    return [ConfigIssue(file_for(tuple(path), origin), ".".join(path), reason, (host,)) for path, reason in problems]


def unreadable_secrets(config: HostChecks) -> list[tuple[KeyPath, str]]:
    problems = []
    for path, source in config.secrets():
        try:
            source.read()
        except SecretUnavailable as err:
            problems.append((path, f"{err} on this controller"))
    return problems


SECRET_KEYS = ("api_key", "password")  # where a secret belongs, so an inline value there is one too
REDACTED = "[secret]"


def secret_values(data: Any) -> set[str]:
    """The values of every secret the raw configuration refers to ({env: ...} or {file: ...} under
    api_key or password) or writes inline where a secret belongs: an error must never show them,
    even when the user pasted one into another key."""
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if key in SECRET_KEYS and set(node) <= {"env", "file", "value"}:
                found.update(_quietly_read(node))
            for sub_key, value in node.items():
                walk(value, str(sub_key))
        elif isinstance(node, list):
            for value in node:
                walk(value, key)
        elif key in SECRET_KEYS and isinstance(node, (str, int, float)):
            found.add(str(node))

    walk(data)
    return {value for value in found if len(value) >= 4}  # shorter is no secret, and would blank words


def _quietly_read(source: dict[str, Any]) -> list[str]:
    values = [str(source["value"])] if "value" in source else []
    if isinstance(source.get("env"), str):
        values.append(os.environ.get(source["env"], "").strip())
    if isinstance(source.get("file"), str):
        try:
            values.append(Path(source["file"]).expanduser().read_text().split("\n", 1)[0].strip())
        except (OSError, UnicodeDecodeError):
            pass
    return values


def redacted(issues: list[ConfigIssue], secrets: set[str]) -> list[ConfigIssue]:
    def clean(text: str) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    return [ConfigIssue(i.file, clean(i.key_path), clean(i.reason), i.hosts) for i in issues]
