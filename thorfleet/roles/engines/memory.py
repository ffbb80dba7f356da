"""The memory plan: what each engine of a unit takes of its memory, worked out on the controller
before any host is touched, against what the unit has (`memory`; a Thor's 128 GB are one pool that
the CPU and the GPU share, so every engine's weights, KV cache and buffers come out of it).

For llama-server the context is resolved with the pinned build's own rules (docs/tuning.md,
"The memory plan", cites the lines), the KV cache sized from the model's GGUF header, and the
prompt cache in host memory counted at its limit. vLLM and SGLang take their configured share.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from thorfleet.core.fleet import ROUTER
from thorfleet.core.model_shape import ModelFacts, ModelShape
from thorfleet.core.types import StrictModel

GiB = 1 << 30
MiB = 1 << 20
# Bytes per element of each KV cache type (`--cache-type-k/-v`; ggml's block sizes: q8_0 is 34 bytes a 32).
CACHE_TYPE_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32,
                    "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32}
CONTEXT_PAD = 256  # llama.cpp pads every context (and each slot's) to 256 cells
AUTO_SLOTS = 4  # tools/server/server.cpp: --parallel unset -> 4 slots, KV unified
PROMPT_CACHE_MIB = 8192  # common/common.h: --cache-ram default
UBATCH = 512  # common/common.h default
# The scheduler's compute buffers: an allowance, not an estimate. The lab's CPU build logs 5-12 MiB
# for the tiny model; a CUDA build's buffers for an 8B model were not captured on the device (the
# pinned build logs them only at -lv 4), so the plan keeps 1 GiB per engine for them.
COMPUTE_ALLOWANCE = 1 * GiB
WHISPER_COMPUTE = 1 * GiB  # whisper-server's encoder and decoder buffers: an allowance of the same kind


class UnitMemory(StrictModel):
    """What one unit has for its engines."""

    total_gib: float = Field(128, gt=0, description="The unit's memory in GiB (a Jetson AGX Thor: 128, one pool for CPU and GPU).")
    reserve_gib: float = Field(
        8, ge=0, description="Kept for the system (JetPack's services, the desktop, the page cache); engines plan within the rest.")

    @property
    def for_engines(self) -> int:
        return int((self.total_gib - self.reserve_gib) * GiB)


@dataclass(frozen=True)
class Context:
    slots: int
    per_slot: int  # tokens one request may hold
    cells: int  # KV cells in all
    unified: bool
    how: str  # the rule that gave it, for the table
    trained: int = 0  # the model's trained context: llama-server caps each slot at it (server-context.cpp, n_ctx_slot)


@dataclass
class EngineNeed:
    name: str
    kind: str
    weights: int | None = None
    share: int | None = None  # vLLM, SGLang: the share of the unit they take at start, weights and cache in it
    kv: int | None = None
    compute: int | None = None
    prompt_cache: int = 0
    context: Context | None = None
    note: str = ""  # why a figure is missing or what it assumes

    @property
    def known(self) -> bool:
        return self.weights is not None or self.share is not None

    @property
    def total(self) -> int:
        return sum(x or 0 for x in (self.weights, self.share, self.kv, self.compute, self.prompt_cache))


def _pad(n: int) -> int:
    return -(-n // CONTEXT_PAD) * CONTEXT_PAD


def llama_context(args: dict[str, Any], shape: ModelShape) -> Context:
    """The context llama-server gives its slots (tools/server/server.cpp, common/fit.cpp `n_ctx_max`,
    src/llama-context.cpp `n_ctx_seq`): unset --parallel is 4 slots sharing one unified cache;
    --ctx-size 0 (or unset) is the trained context for each stream, so an explicit --parallel N
    without --ctx-size gives every slot the whole trained context."""
    slots = args.get("parallel", -1)
    unified = bool(args.get("kv-unified", False))
    if slots in (None, -1):
        slots, unified = AUTO_SLOTS, True
    streams = 1 if unified else slots
    asked = args.get("ctx-size") or 0
    if asked:
        cells, how = _pad(int(asked)), "ctx-size"
    else:
        cells, how = shape.trained_context * streams, f"trained context {shape.trained_context} × {streams} stream(s)"
    if unified:
        return Context(slots, cells, cells, True, how, shape.trained_context)
    per_slot = _pad(cells // slots)
    return Context(slots, per_slot, per_slot * slots, False, how, shape.trained_context)


def kv_bytes(shape: ModelShape, context: Context, cache_k: str = "f16", cache_v: str = "f16", ubatch: int = UBATCH) -> int:
    """K and V for every layer and cell; layers on a sliding window keep only the window per stream
    (src/llama-kv-cache-iswa.cpp)."""
    heads = sum(shape.kv_heads) / shape.layers
    per_cell_layer = heads * (shape.key_length * CACHE_TYPE_BYTES[cache_k] + shape.value_length * CACHE_TYPE_BYTES[cache_v])
    full_layers = shape.layers - shape.swa_layers
    streams = 1 if context.unified else context.slots
    window = min(context.per_slot, _pad(shape.sliding_window * (context.slots if context.unified else 1) + ubatch))
    return int(per_cell_layer * (full_layers * context.cells + shape.swa_layers * window * streams))


def output_bytes(shape: ModelShape, context: Context) -> int:
    """The logits buffer: one f32 row of the vocabulary per slot (src/llama-context.cpp, output buffer)."""
    return 4 * shape.vocabulary * context.slots


def _cache_type(args: dict[str, Any], key: str) -> str:
    value = str(args.get(key, "f16"))
    return value if value in CACHE_TYPE_BYTES else "f16"


def llama_need(name: str, kind: str, args: dict[str, Any], facts: ModelFacts | None) -> EngineNeed:
    """llama-server with its rendered `args`: weights, KV cache, compute buffers, prompt cache."""
    need = EngineNeed(name, kind)
    cache = args.get("cache-ram", PROMPT_CACHE_MIB)
    need.prompt_cache = int(cache) * MiB if isinstance(cache, int) and cache > 0 else 0
    if cache == -1:
        need.note = "cache-ram -1: the prompt cache has no limit; "
    if facts is None or facts.shape is None or facts.size_bytes is None:
        need.note += UNKNOWN
        return need
    need.weights = facts.size_bytes
    need.context = llama_context(args, facts.shape)
    ubatch = int(args.get("ubatch-size", UBATCH))
    need.kv = kv_bytes(facts.shape, need.context, _cache_type(args, "cache-type-k"), _cache_type(args, "cache-type-v"), ubatch)
    need.compute = output_bytes(facts.shape, need.context) + COMPUTE_ALLOWANCE
    return need


UNKNOWN = "model not known on this controller"


def host_plan(config: Any, facts_of: Callable[[Any], ModelFacts | None]) -> list[EngineNeed]:
    """Each engine's need; `facts_of(model)` gives a model's facts (the models role's MODEL_FACTS: what
    the controller knows)."""
    return [engine.planned_need(config, name, facts_of) for name, engine in config.engines.items()]


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GiB:.1f}"


def explain(need: EngineNeed) -> str:
    parts = [f"share {gib(need.share)}"] if need.share is not None else [f"weights {gib(need.weights)}"]
    if need.kv is not None and need.context is not None:
        c = need.context
        parts.append(f"KV {gib(need.kv)} ({c.slots} slots × {c.per_slot} tokens{', unified' if c.unified else ''}; {c.how})")
    elif need.kv:
        parts.append(f"KV {gib(need.kv)}")
    if need.compute:
        parts.append(f"buffers {gib(need.compute)}")
    if need.prompt_cache:
        parts.append(f"prompt cache {gib(need.prompt_cache)}")
    return f"{need.name} {gib(need.total)} GiB: " + ", ".join(parts) + (f" ({need.note})" if need.known and need.note else "")


def plan_problems(config: Any, facts_of: Callable[[Any], ModelFacts | None]) -> Iterator[tuple[tuple[str, ...], str]]:
    """A unit whose engines cannot fit in its memory is refused, with the numbers."""
    plan = host_plan(config, facts_of)
    total = sum(need.total for need in plan)
    room = config.memory.for_engines
    if total > room:
        detail = "; ".join(explain(need) for need in plan if need.total)
        yield ("engines",), (f"the engines need {gib(total)} GiB, more than the {gib(room)} GiB this unit has for them "
                             f"(memory.total_gib {config.memory.total_gib:g} − reserve_gib {config.memory.reserve_gib:g}): {detail}")


def plan_advice(config: Any, facts_of: Callable[[Any], ModelFacts | None]) -> Iterator[tuple[tuple[str, ...], str]]:
    for need in host_plan(config, facts_of):
        c = need.context
        if c and not c.unified and c.per_slot > c.trained:
            yield ("engines", need.name, "slot_context"), (
                f"each of the {c.slots} slots gets {c.per_slot} tokens, but the model was trained on {c.trained}: "
                f"llama-server caps a slot there and allocates the rest unused; a slot_context of {c.trained} or less fits it")
        if not need.known and UNKNOWN in need.note:
            yield ("engines", need.name, "models" if need.kind == ROUTER else "model"), (f"{NOT_PLANNED}: its size and shape are not known on this controller yet; "
                                                   "`thorfleet hosts INVENTORY --memory` asks the hub once and remembers")


NOT_PLANNED = "not in the memory plan"
