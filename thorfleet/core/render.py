"""Render every file the deploy writes on a host, the same way for `thorfleet render` and the deploy."""

import json
from dataclasses import dataclass
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


def _environment() -> jinja2.Environment:
    # As pyinfra's files.template: StrictUndefined, trailing newline kept; block tags leave no blank lines.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("thorfleet", "."),  # names relative to the package: roles/power/x.j2
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


ENVIRONMENT = _environment()


def render_template(template: str, **context: Any) -> str:
    """Render a template by its path inside the thorfleet package, e.g. `roles/power/jetson-clocks.service.j2`."""
    return ENVIRONMENT.get_template(template).render(template_name=template, **context)


def shown_secret(source: SecretSource) -> str:
    """What `thorfleet render` prints in place of a secret (a SecretSource)."""
    return f"<secret from {source.describe()}>"
