"""`thorfleet tune`'s search, the command lines of its candidates and `--apply`'s merge, without a unit."""

import pytest
import yaml

from thorfleet.fleet.schema import HostConfig
from thorfleet.core.fleet import FleetHost
from thorfleet.tune.run import SCRATCH_PORT, candidate_argv
from thorfleet.tune.search import (TTFT_SLACK, Candidate, Workload, candidates, first_stage_pairs, needs_another_run, ranked,
                                    ttft_bound)
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
    assert ranked([fast_but_slow_start, within, broken], Workload(ttft_ms=3000))[0] is fast_but_slow_start
    assert broken not in ranked([broken], Workload())


def test_without_a_target_the_pick_may_not_trade_a_few_per_cent_for_a_much_later_first_token():
    """The lab's case: +6 % tok/s for 4.8 times the TTFT is refused by the throughput profile's 1.5 ×."""
    slow_start = Candidate({"parallel": 16}, [figures(106, 4800)])
    prompt = Candidate({"parallel": 8}, [figures(100, 1000)])
    assert ranked([slow_start, prompt], Workload())[0] is prompt
    assert ttft_bound([slow_start, prompt], Workload()) == 1500
    assert ranked([slow_start, prompt], Workload(ttft_slack=5))[0] is slow_start
    close = Candidate({"parallel": 12}, [figures(104, 1400)])  # within 1.5 ×: throughput decides
    assert ranked([slow_start, prompt, close], Workload())[0] is close
    assert ranked([slow_start, prompt, close], Workload(ttft_slack=TTFT_SLACK["latency"]))[0] is prompt


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


HOST_VARS = """# thor-01: the unit on the bench by the window
engines:
  qwen3-8b:
    # measured 2026-11-21
    args:
      temp: 0.6   # the model card's
      parallel: 4
power:
  mode: MAXN
"""


def test_apply_merges_the_pick_keeping_comments_order_and_every_other_key():
    from thorfleet.tune.apply import merged

    text = merged(HOST_VARS, "qwen3-8b", {"parallel": 8, "ubatch-size": 1024}, "host_vars/thor-01.yml")
    assert text == HOST_VARS.replace("      parallel: 4\n", "      parallel: 8\n      ubatch-size: 1024\n")
    assert merged(text, "qwen3-8b", {"parallel": 8, "ubatch-size": 1024}, "x") == text  # twice: no change
    fresh = merged("", "qwen3-8b", {"parallel": 8, "flash-attn": "on", "cache-type-k": "true", "x": "12"}, "x")
    assert fresh == ("engines:\n  qwen3-8b:\n    args:\n      parallel: 8\n      flash-attn: 'on'\n      cache-type-k: 'true'\n"
                     "      x: '12'\n")  # strings quoted where a YAML reader would read another type


def test_apply_refuses_a_file_it_cannot_merge_into_saying_why():
    from thorfleet.tune.apply import NotApplied, merged

    with pytest.raises(NotApplied, match=r"host_vars/thor-01.yml is not valid YAML \(.*\): fix it first"):
        merged("engines: [\n", "q", {"parallel": 8}, "host_vars/thor-01.yml")
    with pytest.raises(NotApplied, match="engines.q.args is not a mapping"):
        merged("engines: {q: {args: [1]}}\n", "q", {"parallel": 8}, "x")


def test_apply_writes_the_host_vars_file_and_puts_it_back_when_the_project_no_longer_loads(project_copy):
    from thorfleet.tune.apply import NotApplied, apply_patch

    inventory, path = project_copy / "inventory" / "lab.py", project_copy / "host_vars" / "thor-01.yml"
    assert not path.exists()
    assert apply_patch(inventory, project_copy, "thor-01", "qwen3-8b", {"parallel": 8}) == (path, True)
    assert yaml.safe_load(path.read_text()) == {"engines": {"qwen3-8b": {"args": {"parallel": 8}}}}
    assert apply_patch(inventory, project_copy, "thor-01", "qwen3-8b", {"parallel": 8}) == (path, False)
    before = path.read_text()
    with pytest.raises(NotApplied, match="with the patch the project does not load, so .*thor-01.yml is as it was"):
        apply_patch(inventory, project_copy, "thor-01", "qwen3-8b", {"ctx-size": "lots"})
    assert path.read_text() == before


def test_apply_says_so_when_the_host_vars_file_cannot_be_read(project_copy):
    from thorfleet.tune.apply import NotApplied, apply_patch

    (project_copy / "host_vars" / "thor-01.yml").mkdir()
    with pytest.raises(NotApplied, match=r"thor-01.yml cannot be read or written: Is a directory"):
        apply_patch(project_copy / "inventory" / "lab.py", project_copy, "thor-01", "qwen3-8b", {"parallel": 8})
