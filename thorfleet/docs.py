"""Generate docs/configuration.md from the config models: `python -m thorfleet.docs > docs/configuration.md`."""

import typing
from types import UnionType

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from thorfleet.fleet.schema import HostConfig
from thorfleet.roles import ROLES
from thorfleet.roles.engines.kinds import KINDS, kind_name

INTRO = """# Configuration reference

Generated from the pydantic models by `python -m thorfleet.docs`; `tests/unit/test_docs.py` fails when
this file is out of date. Each role's model lives in `thorfleet/roles/<role>/config.py`, each engine
kind in `thorfleet/roles/engines/kinds.py`.

Files are merged per host, lowest precedence first: `group_vars/all.yml`, `group_vars/<group>.yml`
for each of the host's groups in the order the inventory file declares them (then the group named
after the inventory file, e.g. `lab`), then `host_vars/<host>.yml`. Each of these may be written
`.yaml` instead (never both: that is an error) and may also be a folder, Ansible's way:
`group_vars/<group>/` and `host_vars/<host>/`, whose `.yml`/`.yaml` files (subfolders included) are
merged after the file of the same name, in lexical order of their paths (`10-engines.yml` before
`20-models.yml`). Mappings are deep-merged, lists and scalars replaced, and `null` removes a key an
earlier file set. Unknown keys are errors.
`<name>` stands for a name you choose (1-63 characters of `a-z 0-9 . _ -`).

YAML is read so that nothing is lost or changed without a word (`thorfleet/fleet/strict_yaml.py`):
a key written twice in one mapping, a number with a leading zero (YAML 1.1 reads `0755` as octal)
or with colons (`1:30` is base 60 there), and an alias inside the value its own anchor names are
errors naming the line; a file that is not UTF-8 is an error (a byte-order mark is fine); a file
over 1 MiB, one whose aliases expand it beyond 100,000 values, and one nested thousands of levels
deep are refused before they cost anything (docs/security.md). Only `true` and `false` are booleans:
`on`, `off`, `yes` and `no` stay the words they are (so `flash-attn: on` reaches llama-server as
`--flash-attn on`), and a boolean key still accepts them. Quote a value to keep it text.

Files that apply to nothing (`thorfleet/fleet/stray_files.py`): a `group_vars/` file whose name
no inventory in the inventory's folder declares as a group is an error (a typo would otherwise
leave its engines undeployed without a word); a `host_vars/` file for a host no inventory lists,
and a file that is empty or only comments, are warnings, printed by `thorfleet validate` and by
the deploy before it connects. A file whose top level is not a mapping is an error. Nothing there is
skipped without a word: a link that leads nowhere (missing target, or a loop) is an error; a file that
is not `.yml`/`.yaml` (`engines.json`, `llm.yml.bak`) and a link to a folder (not followed) are
warnings; hidden files (`.gitkeep`) are passed over.

Checked across keys and hosts before anything connects: every listener of a unit in one table (two
on one address and port, or an unprivileged service below port 1024, are refused naming both keys and
files; `thorfleet hosts INVENTORY --listeners`), one name per machine in the inventory, flags the memory
plan computes with must be whole numbers (`ctx-size: 32k` is refused), and values a server would
silently replace with its own are refused with the reason: Prometheus's `retention` and
`scrape_interval` of zero. A setting that has no effect beside another is a warning saying which one
wins (`slot_context` beside an explicit `args.ctx-size`).

Secrets (`api_key`, `base.wifi.password`) are never written inline: give `{env: VARIABLE}` or
`{file: PATH}` (its first line; a relative path is relative to where you run the command).
`thorfleet validate` and the deploy read every secret a host needs on the controller before
connecting to any host, and stop with the file, the key path and the source when a variable is
unset or a file is missing, unreadable or empty (`thorfleet render` and `thorfleet hosts` read
none). No error shows a secret's value: one pasted into another key is shown as `[secret]`.
"""


def type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, UnionType):
        names = [type_name(a) for a in args]
        optional = len(args) < len(typing.get_args(annotation))
        return " or ".join(names) + (" or null" if optional else "")
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(see below)"
    if value is None or value in ({}, []):
        return "—" if value is None else f"`{value}`"
    return f"`{value}`"


def rows(model: type[BaseModel], prefix: str, out: list[str], skip: set[str] = frozenset()) -> None:
    nested = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = f"{prefix}{name}"
        annotation = field.annotation
        sub = _submodel(annotation)
        if sub is not None and not _is_dict(annotation):
            nested.append((sub, f"{key}."))
        out.append(f"| `{key}` | {type_name(annotation)} | {default_text(field)} | {field.description or ''} |")
        if _is_dict(annotation) and sub is not None and (prefix or name not in ("models", "engines")):
            nested.append((sub, f"{key}.<name>."))
    for sub, sub_prefix in nested:
        rows(sub, sub_prefix, out)


def _is_dict(annotation) -> bool:
    return typing.get_origin(annotation) is dict


def _submodel(annotation):
    """The config model inside an annotation (`X`, `X | None`, `dict[str, X]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def section(title: str, doc: str | None, body: list[str]) -> list[str]:
    head = ["", f"## {title}", ""]
    if doc:
        head += [" ".join(doc.split()), ""]
    return head + ["| key | type | default | meaning |", "|---|---|---|---|"] + body


def generate() -> str:
    out = [INTRO]
    role_keys = [key for role in ROLES for key in role.config]
    top: list[str] = []
    rows(HostConfig, "", top, skip=set(role_keys))
    out += section("Top level", HostConfig.__doc__, top)
    for key in role_keys:
        field = HostConfig.model_fields[key]
        body: list[str] = []
        if _is_dict(field.annotation):
            if key == "engines":
                continue  # one section per kind, below
            rows(_submodel(field.annotation), f"{key}.<name>.", body)
            out += section(f"`{key}.<name>`", field.description, body)
        else:
            rows(_submodel(field.annotation), f"{key}.", body)
            out += section(f"`{key}`", _submodel(field.annotation).__doc__, body)
    for kind in KINDS:
        out += kind_section(kind)
    return "\n".join(out) + "\n"


def kind_section(kind: type[BaseModel]) -> list[str]:
    """The reference of one engine kind's keys."""
    body: list[str] = []
    rows(kind, "engines.<name>.", body, skip=set(getattr(kind, "unused_keys", ())))
    return section(f"`engines.<name>` of kind `{kind_name(kind)}`", kind.__doc__, body)


if __name__ == "__main__":
    print(generate(), end="")
