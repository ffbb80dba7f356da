"""A llama-router's two renderings of its models: the preset INI the pinned llama-server reads in router
mode (`--models-preset`: one section per model, keys are long flags without dashes, plus the
preset-only `load-on-startup` and `stop-timeout`; common/preset.cpp), and the memory plan's worst case:
the `models_max` largest models loaded at once, each with its KV cache and buffers."""

from collections.abc import Callable
from typing import Any

from thorfleet.core.model_shape import ModelFacts
from thorfleet.roles.engines.config import json_value
from thorfleet.roles.engines.memory import UNKNOWN, EngineNeed, gib, llama_need


# Keys only a preset has (not command-line flags): the --help check leaves them out.
PRESET_ONLY = frozenset({"load-on-startup", "stop-timeout"})


def preset_value(value: Any) -> str:
    """One INI value as llama.cpp's preset reader takes it: booleans as true/false, mappings as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json_value(value)
    return repr(value) if isinstance(value, float) else str(value)


def preset_ini(sections: dict[str, dict[str, Any]]) -> str:
    """`version = 1`, then `[name]` and `key = value` for each model; None values are left out."""
    lines = ["version = 1"]
    for name, options in sections.items():
        lines += ["", f"[{name}]"]
        lines += [f"{key} = {preset_value(value)}" for key, value in options.items() if value is not None]
    return "\n".join(lines) + "\n"


def worst_case(router: str, kind: str, needs: list[EngineNeed], most: int) -> EngineNeed:
    """The largest set of models that can be loaded at once (`most` of them; 0: all): the sum of the
    `most` largest needs. A model whose size is not known leaves the plan incomplete, as for an engine."""
    unknown = [need.name for need in needs if not need.known]
    if unknown:
        return EngineNeed(router, kind, note=f"{UNKNOWN}: {', '.join(unknown)}")
    loaded = sorted(needs, key=lambda need: need.total, reverse=True)[:most or len(needs)]
    total = EngineNeed(router, kind, weights=0, kv=0, compute=0)
    for need in loaded:
        total.weights = (total.weights or 0) + (need.weights or 0)
        total.kv = (total.kv or 0) + (need.kv or 0)
        total.compute = (total.compute or 0) + (need.compute or 0)
        total.prompt_cache += need.prompt_cache
    total.note = (f"{len(loaded)} of its {len(needs)} models loaded at once: "
                  + ", ".join(f"{need.name} {gib(need.total)}" for need in loaded))
    return total


def router_need(router: str, kind: str, models: dict[str, tuple[dict[str, Any], Any]], most: int,
                facts_of: Callable[[Any], ModelFacts | None]) -> EngineNeed:
    """`models`: served name -> (its rendered args, its entry under `models`)."""
    needs = [llama_need(name, kind, args, facts_of(entry)) for name, (args, entry) in models.items()]
    return worst_case(router, kind, needs, most)
