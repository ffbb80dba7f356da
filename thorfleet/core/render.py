"""Render every file the deploy writes on a host, the same way for `thorfleet render` and the deploy."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from thorfleet.core.systemd import exec_line, quote_env_value, unit_value
from thorfleet.core.types import SecretSource


@dataclass(frozen=True)
class RenderedFile:
    dest: str  # absolute path on the unit
    content: str
    mode: str = "644"
    role: str = ""
    # True when the deploy merges this content into the unit's file (daemon.json) instead of writing it.
    merged: bool = False


SHIPPED = jinja2.PackageLoader("thorfleet", ".")  # names relative to the package: roles/power/x.j2
# The fleet project whose templates come first while its files are rendered (host_files, the deploy).
_project: ContextVar[Path | None] = ContextVar("thorfleet_project_templates", default=None)


@cache
def _environment(project: Path | None) -> jinja2.Environment:
    """A project's templates first, by the same names: `templates/roles/<role>/x.j2` replaces the shipped
    template of that name, and a project role's own `roles/<name>/x.j2` is found in the project."""
    loader: jinja2.BaseLoader = SHIPPED
    if project is not None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader([project / "templates", project]), SHIPPED])
    # As pyinfra's files.template: StrictUndefined, trailing newline kept; block tags leave no blank lines.
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["exec_line"] = exec_line
    env.filters["env_value"] = quote_env_value
    env.filters["unit_value"] = unit_value
    env.filters["to_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    return env


@contextmanager
def project_templates(project: Path) -> Iterator[None]:
    """Render with this fleet project's templates first, inside the block."""
    token = _project.set(project.resolve())
    try:
        yield
    finally:
        _project.reset(token)


def render_template(template: str, **context: Any) -> str:
    """Render a template by its path inside the thorfleet package (or the project, see project_templates),
    e.g. `roles/power/jetson-clocks.service.j2`."""
    return _environment(_project.get()).get_template(template).render(template_name=template, **context)


SHOWN_SECRET = "<secret from {}>"


def shown_secret(source: SecretSource) -> str:
    """What `thorfleet render` prints in place of a secret (a SecretSource)."""
    return SHOWN_SECRET.format(source.describe())


def holds_shown_secret(content: str) -> bool:
    """Whether a file rendered for `thorfleet render` holds a secret (shown as where it comes from)."""
    return SHOWN_SECRET.split("{")[0] in content
