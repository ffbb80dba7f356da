"""Generate docs/configuration.md from the config models: `python -m thorfleet.docs > docs/configuration.md`."""

import typing
from types import UnionType

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from roles.engines.config import Ollama, Triton, LlamaServer, Sglang, Vllm, WhisperServer
from thorfleet.config.schema import HostConfig

INTRO = """# Configuration reference

Generated from the pydantic models by `python -m thorfleet.docs`; `tests/unit/test_docs.py` fails when
this file is out of date. Each role's model lives in `roles/<role>/config.py`.

Files are merged per host, lowest precedence first: `group_vars/all.yml`, `group_vars/<group>.yml`
for each of the host's groups in the order the inventory file declares them (then the group named
after the inventory file, e.g. `lab`), then `host_vars/<host>.yml`. Mappings are deep-merged, lists
and scalars replaced, and `null` removes a key an earlier file set. Unknown keys are errors.
`<name>` stands for a name you choose (1-63 characters of `a-z 0-9 . _ -`).
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
        if _is_dict(annotation) and sub is not None and name not in ("models", "engines"):
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
    top: list[str] = []
    rows(HostConfig, "", top, skip={"base", "power", "docker", "builds", "model_store", "models", "engines"})
    out += section("Top level", HostConfig.__doc__, top)
    for key in ("base", "power", "docker", "builds", "model_store"):
        field = HostConfig.model_fields[key]
        body: list[str] = []
        rows(_submodel(field.annotation), f"{key}.", body)
        out += section(f"`{key}`", _submodel(field.annotation).__doc__, body)
    body = []
    rows(_submodel(HostConfig.model_fields["models"].annotation), "models.<name>.", body)
    out += section("`models.<name>`", HostConfig.model_fields["models"].description, body)
    for kind in (LlamaServer, WhisperServer, Vllm, Sglang, Ollama, Triton):
        body = []
        rows(kind, "engines.<name>.", body)
        out += section(f"`engines.<name>` of kind `{kind.model_fields['kind'].annotation.__args__[0]}`", kind.__doc__, body)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(generate(), end="")
