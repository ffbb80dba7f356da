"""What llama-server is given when `args` leave a setting unsaid: the measured defaults per profile
and build, each left out as soon as the user wrote the setting (in any of its spellings)."""

import pytest

from thorfleet.fleet.schema import HostConfig
from thorfleet.roles.engines.config import flag_args

MODELS = {"gguf": {"id": "Qwen/Qwen3-8B-GGUF", "file": "Qwen3-8B-Q5_K_M.gguf"}}


def rendered(cuda=True, **engine):
    config = HostConfig.model_validate({
        "models": MODELS, "builds": {"llama_cpp": {"cuda": cuda}},
        "engines": {"q": {"kind": "llama-server", "model": "gguf", "port": 8000, **engine}},
    })
    return config, config.engines["q"].rendered_args(config)


def test_empty_args_on_a_cuda_build_serve_with_the_measured_throughput_settings():
    config, args = rendered()
    assert args == {"parallel": 8, "ubatch-size": 1024, "batch-size": 2048, "cache-ram": 0, "gpu-layers": 999,
                    "flash-attn": "on", "load-mode": "mlock", "ctx-size": 8 * 8192}
    assert config.engines["q"].locks_memory(config)  # so its unit lifts the memlock limit


def test_latency_profile_has_fewer_slots_and_bigger_prompt_batches():
    _, args = rendered(profile="latency", slot_context=16384)
    assert (args["parallel"], args["ubatch-size"], args["ctx-size"]) == (2, 2048, 2 * 16384)


def test_a_cpu_build_gets_no_gpu_settings():
    config, args = rendered(cuda=False)
    assert not {"gpu-layers", "flash-attn", "load-mode"} & set(args)
    assert not config.engines["q"].locks_memory(config)


def test_the_users_parallel_sizes_the_context_per_slot():
    _, args = rendered(args={"parallel": 4})
    assert (args["parallel"], args["ctx-size"]) == (4, 4 * 8192)


def test_a_ctx_size_the_user_wrote_keeps_llama_cpps_own_slot_count():
    _, args = rendered(args={"ctx-size": 0})
    assert "parallel" not in args and args["ctx-size"] == 0


@pytest.mark.parametrize("written, replaced", [
    ({"n-gpu-layers": 20}, "gpu-layers"), ({"mlock": True}, "load-mode"), ({"no-mmap": True}, "load-mode"),
    ({"flash-attn": "off"}, "flash-attn"), ({"ubatch-size": 512}, "ubatch-size"),
])
def test_any_spelling_of_a_setting_replaces_its_default(written, replaced):
    _, args = rendered(args=written)
    assert args.items() >= written.items()
    assert replaced not in args or replaced in written
    assert len(args) == 8  # every other default is still there


def test_the_users_flags_come_after_the_defaults_and_false_drops_one():
    _, args = rendered(args={"flash-attn": None, "temp": 0.6})
    words = flag_args(args)
    assert words[-2:] == ["--temp", "0.6"]
    assert "--flash-attn" not in words
