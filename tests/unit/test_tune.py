"""`thorfleet tune`'s search and the command lines of its candidates, without a unit."""

from thorfleet.fleet.schema import HostConfig
from thorfleet.core.fleet import FleetHost
from thorfleet.tune.run import SCRATCH_PORT, candidate_argv
from thorfleet.tune.search import Candidate, Workload, candidates, first_stage_pairs, needs_another_run, ranked
from thorfleet.tune.unit import service_properties


def figures(tok_s: float, ttft: float) -> dict:
    return {"output_throughput": tok_s, "mean_ttft_ms": ttft}


def test_the_first_stage_passes_on_the_fastest_pairs_or_all_when_it_could_not_run():
    workload = Workload(ubatches=(512, 1024), flash=("on", "off"), keep=2)
    rows = [{"ubatch-size": 512, "flash-attn": "on", "prompt_tok_s": 900.0},
            {"ubatch-size": 1024, "flash-attn": "on", "prompt_tok_s": 1000.0},
            {"ubatch-size": 1024, "flash-attn": "off", "prompt_tok_s": 400.0}]
    assert first_stage_pairs(workload, rows) == [(1024, "on"), (512, "on")]
    assert len(first_stage_pairs(workload, [])) == 4


def test_each_candidate_gives_every_slot_the_context_a_request_needs():
    found = candidates(Workload(input_len=6000, output_len=500, slot_context=4096, slots=(4, 8)), [(2048, "on")])
    assert [c.args for c in found] == [
        {"parallel": 4, "ctx-size": 4 * 6500, "ubatch-size": 2048, "batch-size": 2048, "flash-attn": "on"},
        {"parallel": 8, "ctx-size": 8 * 6500, "ubatch-size": 2048, "batch-size": 2048, "flash-attn": "on"}]


def test_the_pick_is_the_fastest_within_the_ttft_target_and_infeasible_ones_never_win():
    fast_but_slow_start = Candidate({"parallel": 16}, [figures(300, 2500)])
    within = Candidate({"parallel": 8}, [figures(280, 800)])
    broken = Candidate({"parallel": 32}, infeasible="not healthy after 600 s")
    assert ranked([fast_but_slow_start, within, broken], Workload(ttft_ms=1000))[0] is within
    assert ranked([fast_but_slow_start, within, broken], Workload())[0] is fast_but_slow_start
    assert broken not in ranked([broken], Workload())


def test_a_candidate_is_measured_again_until_two_runs_agree_within_5_percent():
    candidate = Candidate({}, [figures(200, 1)])
    assert needs_another_run(candidate)
    candidate.runs.append(figures(230, 1))
    assert needs_another_run(candidate)  # 13 % apart
    candidate.runs.append(figures(225, 1))
    assert not needs_another_run(candidate)  # stable, and at the limit of three runs anyway
    assert candidate.throughput == 225


def lab_host():
    config = HostConfig.model_validate({
        "models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "q.gguf"}},
        "engines": {"q": {"kind": "llama-server", "model": "m", "port": 8000, "bind": "0.0.0.0",
                          "api_key": {"env": "K"}, "args": {"temp": 0.6, "parallel": 4}}}})
    return FleetHost("thor-01", ["llama"], config, {})


def test_a_candidate_runs_the_engines_command_line_on_loopback_with_the_tuned_flags():
    host = lab_host()
    argv = candidate_argv(host, "q", host.config.engines["q"], {"parallel": 8, "ubatch-size": 512})
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == str(SCRATCH_PORT)
    assert argv[argv.index("--parallel") + 1] == "8" and argv[argv.index("--ubatch-size") + 1] == "512"
    assert "--api-key-file" in argv and "--temp" in argv  # the rest of the engine as it is


def test_a_candidate_unit_has_the_engines_hardening_but_not_its_restart_policy():
    host = lab_host()
    words = service_properties(host.config, "q", host.config.engines["q"])
    properties = words[1::2]
    assert set(words[::2]) == {"-p"}
    assert "User=thorfleet" in properties and "ProtectSystem=strict" in properties and "NoNewPrivileges=yes" in properties
    assert "LimitMEMLOCK=infinity" in properties  # the CUDA default locks the model
    assert not any(p.startswith(("ExecStart", "Restart", "Type=")) for p in properties)
