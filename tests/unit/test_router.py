"""The llama-router kind: its preset INI and command line, its keys refused where they cannot apply, its
models' flags checked before a restart, its worst case in the memory plan, and each of its models
routed, listed and scraped like an engine's."""

import configparser
import json

import pytest
from pydantic import ValidationError

from thorfleet.core.model_shape import ModelFacts, ModelShape
from thorfleet.fleet.errors import ConfigError
from thorfleet.fleet.schema import HostConfig
from thorfleet.roles.engines.commands import engine_argv
from thorfleet.roles.engines.deploy import flags_to_check
from thorfleet.roles.engines.files import engine_files
from thorfleet.roles.engines.memory import plan_problems
from thorfleet.roles.engines.operations import engine_serving
from thorfleet.roles.gateway.files import haproxy_cfg
from thorfleet.roles.gateway.routes import routes_at
from thorfleet.roles.monitoring.targets import scrape_jobs

from .fake_host import failure_of, run_operation
from .helpers import fleet_of
from .test_engines_role import ENV, HEALTH, UNIT, program

MODELS = {name: {"id": f"org/{name}-GGUF", "file": f"{name}.gguf"} for name in ("big", "mid", "small")}
ROUTER = {"kind": "llama-router", "port": 8100, "models_max": 2, "sleep_idle_seconds": 300, "models": {
    "qwen3-big": {"model": "big", "load_on_startup": True, "sleep_idle_seconds": -1},
    "qwen3-mid": {"model": "mid", "profile": "latency", "args": {"top-k": 20, "jinja": False}},
    "qwen3-small": {"model": "small", "slot_context": 4096},
}}


def config(router=None, **more):
    return HostConfig.model_validate({"models": MODELS, "engines": {"models": router or ROUTER}, **more})


def sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read_string("[top]\n" + text)
    return {name: dict(parser[name]) for name in parser.sections()}


def test_the_preset_has_a_section_per_model_with_its_file_flags_defaults_and_when_it_loads_and_sleeps():
    c = config()
    preset, = [f for f in engine_files(c, "models", c.engines["models"]) if f.dest.endswith(".ini")]
    assert preset.dest == "/etc/thorfleet/engines/models.models.ini"
    found = sections(preset.content)
    assert found["top"] == {"version": "1"}
    big, mid, small = found["qwen3-big"], found["qwen3-mid"], found["qwen3-small"]
    assert big["model"] == "/models/org/big-GGUF/big.gguf"
    assert (big["parallel"], big["ctx-size"], big["cache-ram"]) == ("8", str(8 * 8192), "0")  # the throughput profile
    assert (big["load-on-startup"], big["sleep-idle-seconds"], big["stop-timeout"]) == ("true", "-1", "10")
    assert (mid["parallel"], mid["ubatch-size"], mid["top-k"], mid["jinja"]) == ("2", "2048", "20", "false")
    assert (mid["load-on-startup"], mid["sleep-idle-seconds"]) == ("false", "300")  # the router's idle time
    assert small["ctx-size"] == str(8 * 4096)
    assert (big["gpu-layers"], big["load-mode"]) == ("999", "mlock")  # a CUDA build's defaults; not on a CPU build
    cpu = config(builds={"llama_cpp": {"cuda": False}})
    assert "gpu-layers" not in sections(engine_files(cpu, "models", cpu.engines["models"])[-1].content)["qwen3-big"]


def test_the_command_line_names_the_preset_the_limit_and_the_key_file_but_no_model():
    c = config({**ROUTER, "bind": "0.0.0.0", "api_key": {"env": "K"}})
    argv, = engine_argv(c, "models", c.engines["models"])
    assert argv[1:] == ["--models-preset", "/etc/thorfleet/engines/models.models.ini", "--models-max", "2", "--host", "0.0.0.0",
                        "--port", "8100", "--metrics", "--api-key-file", "/etc/thorfleet/engines/models.api-key"]


@pytest.mark.parametrize("change, where", [
    ({"model": "big"}, "model"),
    ({"served_name": "x"}, "served_name"),
    ({"models": {"a": {"model": "big", "args": {"port": 9}}}}, "args"),
    ({"models": {"a": {"model": "big", "args": {"sleep-idle-seconds": 9}}}}, "args"),
    ({"models": {"a": {"model": "big", "args": {"override-kv": ["a=int:1", "b=int:2"]}}}}, "one value per flag"),
    ({"models": {"a": {"model": "big", "args": {"parallel": "four"}}}}, "parallel"),
    ({"models": {}}, "models"),
])
def test_keys_a_router_cannot_use_are_refused_at_their_key(change, where):
    with pytest.raises(ValidationError) as raised:
        config({**ROUTER, **change})
    assert where in str(raised.value)


def test_a_model_the_router_names_must_be_defined(tmp_path):
    with pytest.raises(ConfigError, match=r"all.yml: engines.r.models.a.model: refers to model 'nope', which is not "
                                          r"defined under models \(defined: big, mid, small\)"):
        fleet_of(tmp_path, {"group_vars/all.yml": {"models": MODELS, "engines": {"r": {
            "kind": "llama-router", "port": 8100, "models": {"a": {"model": "nope"}}}}}})


def test_each_models_flags_are_checked_against_the_build_before_the_restart():
    c = config({**ROUTER, "models": {**ROUTER["models"], "qwen3-small": {"model": "small", "args": {"no-such-flag": 3}}}})
    flags = flags_to_check(c, "models", c.engines["models"])
    assert set(flags["presets"]) == {"qwen3-big", "qwen3-mid", "qwen3-small"}
    assert "--load-on-startup" not in flags["presets"]["qwen3-big"]  # preset-only keys are not flags
    commands, _ = run_operation(engine_serving, program(files={}), "models", [UNIT, ENV], {"unit": "new"}, HEALTH, 60,
                                flags=flags)
    assert failure_of(commands).endswith("rejects its command line, so its unit was left as it was: "
                                         "model qwen3-small: --no-such-flag is not an option of this version")


SHAPE = ModelShape("qwen3", 36, (8,) * 36, 128, 128, 40960, 4096, 4096, 151936)
SIZES = {"big.gguf": 75 * 10**9, "mid.gguf": 30 * 10**9, "small.gguf": 5 * 10**9}


def facts_of(entry):
    return ModelFacts(SIZES[entry.file], SHAPE)


def test_the_memory_plan_counts_the_largest_models_that_can_be_loaded_at_once():
    fits = config(memory={"total_gib": 128})
    assert list(plan_problems(fits, facts_of)) == []
    (path, reason), = plan_problems(config({**ROUTER, "models_max": 3}, memory={"total_gib": 128}), facts_of)
    assert path == ("engines",) and "more than the 120.0 GiB this unit has for them" in reason
    assert "3 of its 3 models loaded at once: qwen3-big" in reason
    need = fits.engines["models"].planned_need(fits, "models", facts_of)
    assert need.note.startswith("2 of its 3 models loaded at once: qwen3-big") and "qwen3-small" not in need.note


def test_every_model_is_routed_listed_and_scraped_at_the_routers_port(tmp_path):
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": {
        "roles": ["builds", "models", "engines", "gateway", "monitoring"], "models": MODELS, "engines": {"models": ROUTER}}},
        groups={"gateway": ["thor-01"]})
    routes = {r.model: [(b.engine, b.port) for b in r.reachable] for r in routes_at(fleet, "thor-01")}
    assert routes == {name: [("models", 8100)] for name in ROUTER["models"]}
    cfg = haproxy_cfg(fleet.hosts["thor-01"], fleet)
    line, = [line for line in cfg.splitlines() if line.endswith("if { path /v1/models } METH_GET")]
    listed = json.loads(line.split("string '", 1)[1].split("'", 1)[0])
    assert [m["id"] for m in listed["data"]] == sorted(ROUTER["models"])
    assert "if { path /v1/models/qwen3-mid } METH_GET" in cfg
    targets = [t for job in scrape_jobs(fleet, "thor-01") for t in job.targets if t["labels"].get("kind") == "llama-router"]
    assert sorted((t["labels"]["__param_model"], t["labels"]["__param_autoload"]) for t in targets) == \
        [(name, "false") for name in sorted(ROUTER["models"])]


def test_the_shipped_thor_01_with_its_router_fits_a_128_gb_unit(monkeypatch):
    """thor-01 of the example: qwen3-8b, whisper, and the router's largest model (gpt-oss-120b, models_max 1)
    at their real sizes, within 128 GB less the reserve; its router counts exactly that one model."""
    from pathlib import Path

    from thorfleet.fleet import load_fleet
    from thorfleet.roles.engines.memory import GiB

    from .test_memory_plan import FACTS

    monkeypatch.setenv("THORFLEET_API_KEY", "k")
    monkeypatch.setenv("THORFLEET_METRICS_PASSWORD", "p")
    known = {**FACTS, "Qwen3-8B-Q5_K_M.gguf": ModelFacts(5_850_000_000, SHAPE), "ggml-large-v3-turbo.bin": ModelFacts(1_620_000_000, None),
             "Qwen3-Coder-30B-A3B-Instruct-Q5_K_M.gguf": FACTS["c.gguf"], "gpt-oss-120b-mxfp4-00001-of-00003.gguf": FACTS["o.gguf"]}
    thor01 = load_fleet(Path(__file__).resolve().parents[2] / "inventory" / "lab.py").hosts["thor-01"].config
    assert list(plan_problems(thor01, lambda entry: known[entry.file])) == []
    need = thor01.engines["on-demand"].planned_need(thor01, "on-demand", lambda entry: known[entry.file])
    assert need.note.startswith("1 of its 3 models loaded at once: gpt-oss-on-demand") and need.weights == 63_400_000_000
    assert need.total < 80 * GiB


PRESET = UNIT.__class__("/etc/thorfleet/engines/models.models.ini", "version = 1\n", role="engines")
RUNNING = {"unit": "u1", "env": "e1", "preset": "p1", "build": "b1", "model": "m1"}


def router_op(running, wanted, files_on_disk):
    facts = program(running=running, files=files_on_disk)
    return run_operation(engine_serving, facts, "models", [UNIT, ENV, PRESET], wanted, HEALTH, 60,
                         flags={"kind": "llama-router", "argv": ["/bin/llama-server", "--port", "8100"]},
                         reload_url="http://127.0.0.1:8100/models?reload=1")


def test_a_change_of_the_preset_alone_reloads_the_router_instead_of_restarting_it():
    """Only the changed models are unloaded by the router's reload; the others keep serving."""
    from .test_engines_role import on_disk

    commands, _ = router_op(RUNNING, {**RUNNING, "preset": "p2"}, on_disk(UNIT, ENV))
    shown = [c if isinstance(c, str) else repr(c) for c in commands]
    assert not [c for c in shown if "restart" in c or "drain" in c], shown
    (reload,) = [c for c in shown if "reload=1" in c]
    assert reload == "sh -c 'curl -fsS -o /dev/null \"$1\"' reload 'http://127.0.0.1:8100/models?reload=1'"
    assert any(PRESET.dest in c for c in shown)  # the new preset is written first
    # Any other change restarts it.
    commands, _ = router_op(RUNNING, {**RUNNING, "preset": "p2", "model": "m2"}, on_disk(UNIT, ENV, PRESET))
    assert any("restart thorfleet-models" in c for c in commands if isinstance(c, str))
