"""The shape of a GGUF model, read from the key-value header at the start of its file: all the memory
plan needs (layers, KV heads, head sizes, trained context, sliding window), without the weights.

The header is read from a stream and reading stops at its end, so the first megabytes of a
multi-gigabyte file are enough: from the controller's model cache, or by a range request to the hub
(models/shapes.py). Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

import struct
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

MAGIC = b"GGUF"
# GGUF value types: id -> struct format (strings and arrays are read by hand).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
# Arrays longer than this (the tokenizer's vocabulary and merges) are read past, only their length kept.
KEEP_ARRAY = 4096


class HeaderError(Exception):
    """Not a GGUF file, or a header the plan cannot use."""


@dataclass(frozen=True)
class ModelFacts:
    """What the memory plan knows of a model file (the models role learns it: roles/models/shapes.py)."""

    size_bytes: int | None
    shape: "ModelShape | None"  # None: not a GGUF file (vLLM's safetensors), or not read


@dataclass(frozen=True)
class ModelShape:
    """What the KV cache and compute buffers of a llama.cpp model depend on."""

    architecture: str
    layers: int
    kv_heads: tuple[int, ...]  # per layer (models may vary it)
    key_length: int
    value_length: int
    trained_context: int
    embedding: int
    feed_forward: int
    vocabulary: int
    sliding_window: int = 0  # 0: every layer attends to the whole context
    swa_layers: int = 0  # how many layers use the sliding window

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelShape":
        return cls(**{**data, "kv_heads": tuple(data["kv_heads"])})


@dataclass(frozen=True)
class Skipped:
    """A long array of the header (the vocabulary), read past: only its length is kept."""

    length: int


class _Reader:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def take(self, size: int) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise HeaderError("the file ends inside its GGUF header")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.scalar("Q")).decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("I"), self.scalar("Q")
            items = [self.value(item_kind) for _ in range(count)]
            return items if count <= KEEP_ARRAY else Skipped(count)
        raise HeaderError(f"unknown GGUF value type {kind}")


def read_metadata(stream: BinaryIO) -> dict[str, Any]:
    """Every key of the header (long arrays as `Skipped`), reading no further than the header."""
    reader = _Reader(stream)
    if reader.take(4) != MAGIC:
        raise HeaderError("not a GGUF file (no GGUF magic)")
    version = reader.scalar("I")
    if version < 2:
        raise HeaderError(f"GGUF version {version} is too old")
    reader.scalar("Q")  # tensor count
    count = reader.scalar("Q")
    metadata: dict[str, Any] = {}
    for _ in range(count):
        key = reader.string()
        metadata[key] = reader.value(reader.scalar("I"))
    return metadata


def _swa_layers(metadata: dict[str, Any], arch: str, layers: int) -> int:
    """Layers on the sliding window: an explicit per-layer pattern in the header, else llama.cpp's
    pattern for the architecture (src/models/*.cpp `load_swa_pattern`: gpt-oss every other layer)."""
    pattern = metadata.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list):
        return sum(bool(x) for x in pattern)
    period = pattern if isinstance(pattern, int) else SWA_PERIOD.get(arch, 0)
    return sum(1 for layer in range(layers) if layer % period < period - 1) if period else 0


# Architectures whose sliding-window layers follow a fixed period in the pinned llama.cpp.
SWA_PERIOD = {"gpt-oss": 2}


def shape_from_metadata(metadata: dict[str, Any]) -> ModelShape:
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        raise HeaderError("the header names no general.architecture")

    def key(name: str, default: Any = None) -> Any:
        value = metadata.get(f"{arch}.{name}", default)
        if value is None:
            raise HeaderError(f"the header has no {arch}.{name}")
        return value

    layers = int(key("block_count"))
    heads = key("attention.head_count")
    heads = heads[0] if isinstance(heads, list) else heads
    kv_heads = key("attention.head_count_kv", heads)
    kv_heads = tuple(int(h) for h in kv_heads) if isinstance(kv_heads, list) else (int(kv_heads),) * layers
    embedding = int(key("embedding_length"))
    head = embedding // int(heads)
    window = int(metadata.get(f"{arch}.attention.sliding_window") or 0)
    feed_forward = key("feed_forward_length", 0)
    tokens = metadata.get("tokenizer.ggml.tokens")
    vocabulary = metadata.get(f"{arch}.vocab_size") or (tokens.length if isinstance(tokens, Skipped) else len(tokens or ()))
    return ModelShape(
        architecture=arch, layers=layers, kv_heads=kv_heads,
        key_length=int(key("attention.key_length", head)), value_length=int(key("attention.value_length", head)),
        trained_context=int(key("context_length")), embedding=embedding,
        feed_forward=int(max(feed_forward) if isinstance(feed_forward, list) else feed_forward),
        vocabulary=int(vocabulary), sliding_window=window, swa_layers=_swa_layers(metadata, arch, layers) if window else 0,
    )


def read_shape(stream: BinaryIO) -> ModelShape:
    return shape_from_metadata(read_metadata(stream))
