"""llama-server flags that are valid but known to serve slowly or to reserve far more memory than
a unit has: reported by `thorfleet validate` and the deploy as warnings, with the measurement
behind each (docs/roles/engines.md, "Known-slow flags"). A user may keep them on purpose."""

from collections.abc import Iterator
from typing import Any

from thorfleet.core.role import Problem

# Measured on an NVIDIA H200, pinned llama.cpp with CUDA, Qwen3-8B-shaped Q5_K_M, streaming 2048 in /
# 128 out at concurrency 8 (seed 002's high-load shape); docs/roles/engines.md lists the runs.
NO_KV_OFFLOAD = ("keeps the KV cache in host memory and runs attention on the CPU; on a Thor that frees no memory "
                 "(one physical pool) and was measured at under 2.7 output tok/s against 205.5 tok/s without it "
                 "(seed 002's high load, Qwen3-8B Q5_K_M); remove it")
WHOLE_CONTEXT_PER_SLOT = ("ctx-size 0 with an explicit parallel gives every slot the model's whole trained context in "
                          "the pinned llama.cpp (n_ctx_slot = trained context, KV not unified): for Qwen3-8B and parallel 14 "
                          "a KV cache for 573k tokens, about 84 GB; set ctx-size to parallel × the context one request needs")


MAPPED_MODEL = ("maps the model file on purpose (the pinned build's `auto` does not on an integrated GPU such as Thor's: "
                "llama-model.cpp, mmap_support); its CUDA backend has the zero-copy path turned off (ggml-cuda.cu, "
                "'corrupted output', #15034), so every weight is copied into GPU memory while the mapped file stays in the "
                "page cache: on a Thor's one memory pool the weights are held twice until the kernel drops the cache (read "
                "from the source, not measured: the test GPU is a discrete one); write load-mode: mlock (or none)")


def llama_server_advice(engine: Any, config: Any) -> Iterator[Problem]:
    """(key path under the engine, reason) for each known-slow or oversized setting of a llama-server
    engine (LlamaServer.advice)."""
    args = engine.args
    build = getattr(config.builds, engine.build)
    if args.get("no-kv-offload") is True and build.cuda:
        yield ("args", "no-kv-offload"), NO_KV_OFFLOAD
    if args.get("ctx-size") == 0 and args.get("parallel") not in (None, -1):
        yield ("args", "ctx-size"), WHOLE_CONTEXT_PER_SLOT
    if "slot_context" in engine.model_fields_set and "ctx-size" in args:
        yield ("slot_context",), (f"has no effect: args.ctx-size ({args['ctx-size']}) sets the whole context, which the "
                                  "slots share; remove one of the two (slot_context gives each slot its own)")
    if build.cuda and _maps_the_model(engine.rendered_args(config)):
        yield ("args", "load-mode"), MAPPED_MODEL


def _maps_the_model(args: dict[str, Any]) -> bool:
    return args.get("mmap") is True or str(args.get("load-mode")) in ("mmap", "mmap+mlock")
