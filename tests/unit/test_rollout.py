"""`thorfleet rollout`: its batches and failure arithmetic against Ansible's documented examples
(the `serial` and `max_fail_percentage` sections of its playbook-strategies guide), its state file
and its summary of what changed."""

import pytest

from thorfleet.rollout.batches import batches, parse_size, plan, stops

HOSTS = [f"h{i:02d}" for i in range(1, 21)]


def sizes_of(found):
    return [len(batch) for batch in found]


def test_a_fixed_size_cuts_the_hosts_in_order_and_the_last_batch_takes_the_rest():
    found = batches(HOSTS[:6], [3])
    assert found == [HOSTS[:3], HOSTS[3:6]]
    assert sizes_of(batches(HOSTS[:7], [3])) == [3, 3, 1]


def test_a_percentage_is_of_all_hosts_rounded_down():
    # "serial: 30%" over 10 hosts: batches of 3, the last with the remainder.
    assert sizes_of(batches(HOSTS[:10], ["30%"])) == [3, 3, 3, 1]
    # 25% of 7 is 1.75: one host a batch.
    assert sizes_of(batches(HOSTS[:7], ["25%"])) == [1] * 7


def test_a_percentage_below_one_host_is_still_one_host():
    assert sizes_of(batches(HOSTS[:3], ["10%"])) == [1, 1, 1]


def test_a_list_is_used_in_order_and_its_last_value_repeats():
    # "serial: [1, 5, 10]": one host, then 5, then 10 at a time (or what is left).
    assert sizes_of(batches(HOSTS, [1, 5, 10])) == [1, 5, 10, 4]
    # "serial: ['10%', '20%', '100%']": 10 % of the hosts, then 20 %, then all the rest.
    assert sizes_of(batches(HOSTS, ["10%", "20%", "100%"])) == [2, 4, 14]


def test_no_size_is_one_batch_of_every_host():
    assert batches(HOSTS[:5], []) == [HOSTS[:5]]


def test_the_canary_goes_alone_first_and_is_not_repeated():
    assert plan(HOSTS[:5], "h03", [2]) == [["h03"], ["h01", "h02"], ["h04", "h05"]]


@pytest.mark.parametrize("text, parsed", [("3", 3), ("30%", "30%"), (" 1 ", 1), ("100%", "100%")])
def test_sizes_parse(text, parsed):
    assert parse_size(text) == parsed


@pytest.mark.parametrize("text", ["0", "-1", "abc", "3.5", "101%", ""])
def test_bad_sizes_say_what_is_accepted(text):
    with pytest.raises(ValueError, match="number of hosts|at most 100%"):
        parse_size(text)


def test_max_fail_percentage_must_be_exceeded_not_equalled():
    # "max_fail_percentage: 30" with "serial: 10": more than 3 of the 10 failing aborts the play.
    assert not stops(3, 10, 30)
    assert stops(4, 10, 30)
    # "if serial were set to 4 and you wanted the task to abort the play when 2 of the systems
    # failed, set the max_fail_percentage at 49 rather than 50".
    assert stops(2, 4, 49) and not stops(2, 4, 50)


def test_zero_stops_at_the_first_failure_and_a_whole_batch_failing_always_stops():
    assert stops(1, 10, 0) and not stops(0, 10, 0)
    assert stops(2, 2, 100)  # every host of the batch failed
    assert not stops(1, 2, 100)


def test_the_state_file_round_trips_and_resume_keeps_what_was_done(tmp_path):
    from thorfleet.rollout.state import DONE, FAILED, RolloutState

    state = RolloutState("inventory/sim.py", [["a"], ["b", "c"]], 0.0)
    state.outcome("a").state = DONE
    state.outcome("b").state, state.outcome("b").reason = FAILED, "unreachable: timed out"
    state.stopped = "batch 2"
    path = tmp_path / ".thorfleet" / "rollout-sim.json"
    state.save(path)
    again = RolloutState.load(path)
    assert again == state and not path.with_suffix(".partial").exists()


def test_the_summary_says_what_changed_in_each_engines_command_line():
    from thorfleet.commands.rollout import _changes

    before = {"qwen3-8b": {"command_line": "/b/1/llama-server --port 8000 --top-k 20 --jinja", "model_file": "/m/a.gguf"}}
    after = {"qwen3-8b": {"command_line": "/b/2/llama-server --port 8000 --top-k 30", "model_file": "/m/a.gguf"}}
    build, model, flags = _changes(before, after)
    assert build == "qwen3-8b: /b/1/llama-server → /b/2/llama-server" and model == "same"
    assert flags.splitlines() == ["qwen3-8b: --jinja → -", "qwen3-8b: --top-k 20 → 30"]
    assert _changes(before, before) == ("same", "same", "same")
