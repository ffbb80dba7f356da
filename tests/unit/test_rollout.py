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


class FakeSteps:
    """The rollout's steps on pretend units: what each step did, in order, and failures on demand."""

    def __init__(self, gate_fails=(), drain_times_out=(), unreachable=(), gateway_down=False, changes=None,
                 revisions=("0001-aaaaaaaaaaaa", "0002-bbbbbbbbbbbb"), revert_fails=(), slower_after=1.0, stand_in_fails=()):
        self.done: list[tuple[str, str]] = []
        self.stand_in_fails = set(stand_in_fails)
        self.recorded = [{"number": int(name[:4]), "name": name} for name in revisions]  # on every unit
        self.revert_fails = set(revert_fails)
        self.slower_after = slower_after  # the factor the deploy divides throughput by, as the gate measures it
        self.changes = changes  # the units whose plan shows a change (None: every unit)
        self.gate_fails, self.drain_times_out, self.unreachable = set(gate_fails), set(drain_times_out), set(unreachable)
        self.gateway_down = gateway_down
        self.flags = {}

    def session(self):
        from contextlib import nullcontext

        from thorfleet.roles.gateway.runtime import GatewayError

        if self.gateway_down:
            raise GatewayError("the gateway gw cannot be reached: TimeoutError: timed out")
        return nullcontext()

    def changing(self, hosts):
        self.done += [(host, "plan") for host in hosts]
        return set(hosts) if self.changes is None else set(hosts) & set(self.changes)

    def engines(self, host):
        from thorfleet.core.ssh import Unreachable

        if host in self.unreachable:
            raise Unreachable("unreachable: NoValidConnectionsError: refused")
        self.done.append((host, "engines"))
        return {"e": {"command_line": f"llama-server {self.flags.get(host, '--old')}", "model_file": "/m"}}

    def revisions(self, host):
        return self.recorded

    def measure(self, host, budget_s, like=None):
        deployed = self.flags.get(host) == "--new"
        self.done.append((host, "measure"))
        self.measured_like = like
        factor = self.slower_after if deployed else 1.0
        return {"e": [{"output_throughput": tok_s / factor, "mean_ttft_ms": 200.0 * factor, "prompts": 8}
                      for tok_s in (98.0, 100.0, 103.0, 99.0, 101.0)]}

    def revert(self, host, revision):
        self.done.append((host, f"revert {revision['name']}"))
        self.flags[host] = "--old"
        return host not in self.revert_fails, f"revision {revision['name']}: verify: 12 passed"

    def drain(self, host):
        from thorfleet.roles.gateway.runtime import GatewayError

        self.done.append((host, "drain"))
        if host in self.drain_times_out:
            raise GatewayError(f"{host}.e still had 2 open request(s) after 30 s of draining")
        return ["drained at gw in 0.1 s"]

    def start_stand_ins(self, host, stand_ins):
        from thorfleet.roles.engines.stand_in import StandInFailed

        self.done.append((host, "stand-in"))
        if host in self.stand_in_fails:
            raise StandInFailed(f"the stand-in of {stand_ins[0].engine} did not start, so the unit was not drained: boom")
        return [f"stand-in of {s.engine} answering on port {s.port}" for s in stand_ins]

    def stop_stand_ins(self, host, stand_ins):
        self.done.append((host, "stand-in stopped"))
        return []

    def deploy(self, host):
        self.done.append((host, "deploy"))
        self.flags[host] = "--new"
        return True, ""

    def gate(self, host):
        self.done.append((host, "gate"))
        return (False, "verify: test_engine_is_healthy[x]") if host in self.gate_fails else (True, "verify: 12 passed")

    def enable(self, host, ok):
        self.done.append((host, "ready" if ok else "maint"))


def rollout_of(steps, tmp_path, batches=(["a"], ["b", "c"]), max_fail=0.0, skip_unreachable=False, state=None, outages=None,
               allow_outage=False, rollback=True, undo=None, perf_gate=()):
    from thorfleet.rollout.outages import Cover
    from thorfleet.rollout.run import Rollout
    from thorfleet.rollout.state import RolloutState

    state = state or RolloutState("inventory/x.py", [list(b) for b in batches], max_fail, undo=undo, perf_gate=list(perf_gate))
    path = tmp_path / "rollout.json"
    return (Rollout(steps, state, path, skip_unreachable, lambda line: None, outages=outages or (lambda changing: Cover()),
                    allow_outage=allow_outage, rollback=rollback), state, path)


def steps_of(steps, host):
    """What the rollout did to the unit after planning."""
    return [step for unit, step in steps.done if unit == host and step != "plan"]


def test_each_unit_is_drained_deployed_gated_and_put_back_in_that_order(tmp_path):
    steps = FakeSteps()
    rollout, state, path = rollout_of(steps, tmp_path)
    assert rollout.run()
    for host in "abc":
        assert steps_of(steps, host) == ["engines", "drain", "deploy", "gate", "engines", "ready"]
        assert state.units[host].state == "done" and state.units[host].after["e"]["command_line"].endswith("--new")
    assert [unit for unit, step in steps.done if step != "plan"][:6] == ["a"] * 6  # the canary alone, first


def test_a_canary_that_fails_its_gate_stops_the_rollout_and_with_no_rollback_stays_out_of_the_gateway(tmp_path):
    steps = FakeSteps(gate_fails={"a"})
    rollout, state, path = rollout_of(steps, tmp_path, rollback=False)
    assert not rollout.run()
    assert steps_of(steps, "a")[-1] == "maint" and state.units["a"].state == "failed"
    assert steps_of(steps, "b") == steps_of(steps, "c") == []  # untouched, serving
    assert "batch 1: 1 of 1 unit(s) failed" in state.stopped
    from thorfleet.rollout.state import RolloutState
    assert RolloutState.load(path).stopped == state.stopped


def test_a_drain_that_times_out_fails_the_unit_before_anything_is_deployed(tmp_path):
    steps = FakeSteps(drain_times_out={"a"})
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert not rollout.run()
    assert steps_of(steps, "a") == ["engines", "drain"] and "open request(s)" in state.units["a"].reason


def test_an_unreachable_gateway_stops_the_rollout_before_any_unit_is_touched(tmp_path):
    steps = FakeSteps(gateway_down=True)
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert not rollout.run()
    assert steps.done == [] and "gateway gw cannot be reached" in state.stopped


def test_an_unreachable_unit_is_skipped_when_asked_and_the_rest_go_on(tmp_path):
    steps = FakeSteps(unreachable={"b"})
    rollout, state, _ = rollout_of(steps, tmp_path, max_fail=50, skip_unreachable=True)
    assert rollout.run()
    assert state.units["b"].state == "skipped" and "refused" in state.units["b"].reason
    assert steps_of(steps, "c")[-1] == "ready"


def test_resume_carries_on_with_the_units_not_done_and_keeps_their_first_state(tmp_path):
    steps = FakeSteps(gate_fails={"b"})
    rollout, state, path = rollout_of(steps, tmp_path, batches=(["a"], ["b"], ["c"]))
    assert not rollout.run() and state.units["a"].state == "done"
    before_b = state.units["b"].before
    from thorfleet.rollout.state import RolloutState
    resumed = FakeSteps()
    resumed.flags = dict(steps.flags)  # b runs what its failed deploy left
    rollout, state, _ = rollout_of(resumed, tmp_path, state=RolloutState.load(path))
    assert rollout.run()
    assert steps_of(resumed, "a") == []  # done already: not drained again
    assert state.units["b"].state == "done" and state.units["b"].before == before_b


def test_units_whose_plan_shows_no_change_are_not_drained_deployed_or_gated(tmp_path):
    steps = FakeSteps(changes={"b"})
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert rollout.run()
    assert steps_of(steps, "a") == steps_of(steps, "c") == []
    assert steps_of(steps, "b") == ["engines", "drain", "deploy", "gate", "engines", "ready"]
    assert {h: u.state for h, u in state.units.items()} == {"a": "unchanged", "b": "done", "c": "unchanged"}


def test_a_resumed_rollout_deploys_a_unit_that_was_unchanged_and_now_has_a_change(tmp_path):
    steps = FakeSteps(gate_fails={"a"}, changes={"a"})
    rollout, state, path = rollout_of(steps, tmp_path)
    assert not rollout.run() and state.units["b"].state == "unchanged"
    from thorfleet.rollout.state import RolloutState
    resumed = FakeSteps(changes={"a", "b"})
    rollout, state, _ = rollout_of(resumed, tmp_path, state=RolloutState.load(path))
    assert rollout.run()
    assert steps_of(resumed, "b")[-1] == "ready" and state.units["b"].state == "done" and state.units["c"].state == "unchanged"


def test_a_model_whose_every_server_is_drained_in_one_batch_is_named_before_the_rollout(tmp_path):
    """The example lab: qwen3-coder and gpt-oss are served by thor-02 alone, qwen3 by thor-01 and thor-03
    (nothing is known of the models on this controller: no stand-in, and the lines say why)."""
    from thorfleet.fleet import load_fleet
    from thorfleet.rollout.outages import cover

    from ..conftest import ROOT

    fleet = load_fleet(ROOT / "inventory" / "lab.py", secrets=False)
    one_a_batch = [["thor-01"], ["thor-02"], ["thor-03"]]
    unknown = "thor-02's memory plan is not known on this controller"
    # thor-01's router is the only server of its three models: draining thor-01 leaves them none.
    assert cover(fleet, one_a_batch, {"thor-03"}).lost == []
    assert [line.split(": ")[0] for line in cover(fleet, one_a_batch, {"thor-01"}).lost] == [
        f"{model} (at the gateway thor-03) has no other server while thor-01 is drained in batch 1"
        for model in ("gpt-oss-on-demand", "qwen3-coder-on-demand", "qwen3-long")]
    lost = cover(fleet, one_a_batch, {"thor-02"}).lost
    assert [line.split(": ")[0] for line in lost] == [
        "gpt-oss (at the gateway thor-03) has no other server while thor-02 is drained in batch 2",
        "qwen3-coder (at the gateway thor-03) has no other server while thor-02 is drained in batch 2"]
    assert all(unknown in line for line in lost), lost
    # Both of qwen3's units in one batch: it too has no server while they are drained (thor-03's are containers).
    both = cover(fleet, [["thor-01", "thor-03"], ["thor-02"]], {"thor-01", "thor-03"}).lost
    line, = [line for line in both if line.startswith("qwen3 ")]
    assert line.startswith("qwen3 (at the gateway thor-03) has no other server while thor-01, thor-03 are drained in batch 1: ")
    assert "qwen3-vllm is a container engine, which thorfleet does not start twice" in line


def stand_in_fleet(tmp_path, known=True):
    """Units a and b behind the gateway c: a serves `chat` (a 5 GB model), b `huge` (70 GB: not twice in 120 GiB)
    and a router of two models; what the controller knows of the models is their GGUF header in its cache."""
    from thorfleet.roles.models.config import ModelConfig
    from thorfleet.roles.models.controller_cache import cache_key

    from .helpers import fleet_of
    from .test_memory_plan import write_gguf

    models = {name: {"source": "huggingface", "id": f"org/{name}", "file": f"{name}.gguf", "size_bytes": size}
              for name, size in (("small", 5 * 10**9), ("big", 70 * 10**9))}
    if known:
        for entry in models.values():
            path = tmp_path / "cache" / cache_key(ModelConfig(**entry)) / entry["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_gguf(path)
    exposed = {"kind": "llama-server", "bind": "0.0.0.0", "allow_unauthenticated": True, "args": {"ctx-size": 4096, "parallel": 1}}
    return fleet_of(tmp_path, {
        "group_vars/all.yml": {"roles": ["builds", "models", "engines", "gateway"], "models": models,
                               "model_store": {"controller_cache": str(tmp_path / "cache")}},
        "host_vars/a.yml": {"engines": {"chat": {**exposed, "model": "small", "port": 8000}, "two": {
            "kind": "llama-router", "bind": "0.0.0.0", "allow_unauthenticated": True, "port": 8100,
            "models": {"one": {"model": "small"}, "other": {"model": "small"}}}}},
        "host_vars/b.yml": {"engines": {"huge": {**exposed, "model": "big", "port": 8000}}},
    }, groups={"llm": ["a", "b"], "gateway": ["c"]})


def test_a_model_with_one_server_gets_a_stand_in_where_the_units_memory_plan_has_room(tmp_path):
    from thorfleet.rollout.outages import StandIn, cover

    fleet = stand_in_fleet(tmp_path)
    found = cover(fleet, [["a"], ["b"]], {"a", "b"})
    # a: the chat engine and the router (one stand-in for both of its models), on their ports + 1000, at the gateway c.
    assert found.stand_ins == {"a": [StandIn("a", "chat", 9000, (("c", "chat.chat", "127.0.0.1"),)),
                                     StandIn("a", "two", 9100, (("c", "chat.one", "127.0.0.1"), ("c", "chat.other", "127.0.0.1")))]}
    assert found.covered == [f"{model} (at the gateway c) is served by a stand-in of a's {engine} on port {port} while a is "
                             "drained in batch 1" for model, engine, port in (("chat", "chat", 9000), ("one", "two", 9100),
                                                                                 ("other", "two", 9100))]
    # b: its 70 GB model does not fit twice in 120 GiB.
    line, = found.lost
    assert line.startswith("huge (at the gateway c) has no other server while b is drained in batch 2: b has no room for "
                           "a second huge: its engines and the stand-in(s) need 1") and line.endswith("GiB of its 120.0 GiB"), line
    assert cover(fleet, [["a"], ["b"]], {"b"}).stand_ins == {}  # a does not change: nothing to cover
    unknown = cover(stand_in_fleet(tmp_path / "unknown", known=False), [["a"], ["b"]], {"a"})
    assert unknown.stand_ins == {} and len(unknown.lost) == 3 and all("a's memory plan is not known" in l for l in unknown.lost)


def test_a_units_stand_ins_start_before_it_is_drained_and_stop_once_it_is_back(tmp_path):
    from thorfleet.rollout.outages import Cover, StandIn

    stand_in = StandIn("b", "e", 9000, (("gw", "chat.m", "10.0.0.2"),))
    covers_b = lambda changing: Cover(stand_ins={"b": [stand_in]}, covered=["m ... stand-in"])  # noqa: E731
    steps = FakeSteps()
    rollout, state, _ = rollout_of(steps, tmp_path, outages=covers_b)
    assert rollout.run()
    assert steps_of(steps, "b") == ["engines", "stand-in", "drain", "deploy", "gate", "engines", "ready", "stand-in stopped"]
    assert "stand-in" not in steps_of(steps, "a")
    # A unit whose gate fails is rolled back while its stand-in serves; the stand-in goes once it is back.
    steps = FakeSteps(gate_fails={"b"})
    rollout, state, _ = rollout_of(steps, tmp_path / "fails", batches=(["b"],), outages=covers_b)
    assert not rollout.run()
    assert steps_of(steps, "b")[-2:] == ["ready", "stand-in stopped"] and "revert" in str(steps_of(steps, "b"))


def test_a_stand_in_that_does_not_start_fails_its_unit_before_it_is_drained(tmp_path):
    from thorfleet.rollout.outages import Cover, StandIn

    covers_a = lambda changing: Cover(stand_ins={"a": [StandIn("a", "e", 9000, ())]})  # noqa: E731
    steps = FakeSteps(stand_in_fails={"a"})
    rollout, state, _ = rollout_of(steps, tmp_path, outages=covers_a)
    assert not rollout.run()
    assert steps_of(steps, "a") == ["engines", "stand-in", "stand-in stopped"]  # never drained, so still serving
    assert state.units["a"].state == "failed" and "did not start, so the unit was not drained: boom" in state.units["a"].reason
    assert steps_of(steps, "b") == []


def test_a_model_left_without_a_server_refuses_the_rollout_before_any_unit_is_touched_unless_allowed(tmp_path):
    from thorfleet.rollout.outages import Cover
    from thorfleet.rollout.run import OutageRefused

    lose_b = lambda changing: Cover(lost=["m has no other server while b is drained in batch 2"] if "b" in changing else [])  # noqa: E731
    steps = FakeSteps()
    rollout, state, path = rollout_of(steps, tmp_path, outages=lose_b)
    with pytest.raises(OutageRefused, match="--allow-outage"):
        rollout.run()
    assert all(step == "plan" for _, step in steps.done) and not path.exists()
    steps = FakeSteps(changes={"a", "c"})  # b does not change: nothing is lost
    assert rollout_of(steps, tmp_path, outages=lose_b)[0].run()
    steps = FakeSteps()
    assert rollout_of(steps, tmp_path, outages=lose_b, allow_outage=True)[0].run() and steps_of(steps, "b")[-1] == "ready"


def test_a_canary_that_fails_goes_back_to_its_revision_from_before_and_into_the_gateway(tmp_path):
    steps = FakeSteps(gate_fails={"a"})
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert not rollout.run() and "batch 1: 1 of 1 unit(s) failed" in state.stopped
    assert steps_of(steps, "a") == ["engines", "drain", "deploy", "gate", "revert 0002-bbbbbbbbbbbb", "engines", "ready"]
    a = state.units["a"]
    assert a.state == "failed" and a.revision == "0002-bbbbbbbbbbbb" and a.gate == "verify: test_engine_is_healthy[x]"
    assert a.rolled_back == "rolled back: revision 0002-bbbbbbbbbbbb: verify: 12 passed"
    assert steps_of(steps, "b") == []  # the rollout still stops: the change is what failed


def test_a_rollback_that_fails_too_leaves_the_unit_out_of_the_gateway(tmp_path):
    steps = FakeSteps(gate_fails={"a"}, revert_fails={"a"})
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert not rollout.run()
    assert steps_of(steps, "a")[-1] == "maint" and state.units["a"].rolled_back.startswith("rollback FAILED: revision 0002")


def test_a_unit_with_no_revision_before_the_rollout_is_not_rolled_back(tmp_path):
    steps = FakeSteps(gate_fails={"a"}, revisions=())
    rollout, state, _ = rollout_of(steps, tmp_path)
    assert not rollout.run()
    assert steps_of(steps, "a")[-1] == "maint" and "no revision before this rollout" in state.units["a"].rolled_back


def test_undo_takes_every_unit_to_the_revision_before_its_newest_through_drain_and_gate(tmp_path):
    steps = FakeSteps(changes=set())  # an undo plans nothing: every unit goes back
    rollout, state, _ = rollout_of(steps, tmp_path, undo="")
    assert rollout.run()
    for host in "abc":
        assert steps_of(steps, host) == ["engines", "drain", "revert 0001-aaaaaaaaaaaa", "engines", "ready"]
        assert state.units[host].gate == "revision 0001-aaaaaaaaaaaa: verify: 12 passed"
    assert not any(step == "plan" for _, step in steps.done)


def test_undo_to_a_named_revision_and_to_one_that_is_not_there(tmp_path):
    steps = FakeSteps(revisions=("0001-aaaaaaaaaaaa", "0002-bbbbbbbbbbbb", "0003-cccccccccccc"))
    assert rollout_of(steps, tmp_path, undo="1")[0].run()
    assert steps_of(steps, "a")[2] == "revert 0001-aaaaaaaaaaaa"
    steps = FakeSteps(revisions=("0001-aaaaaaaaaaaa",))
    rollout, state, _ = rollout_of(steps, tmp_path, undo="")
    assert not rollout.run()
    assert state.units["a"].reason == "no earlier revision on the unit (1 recorded)" and steps_of(steps, "a") == ["engines"]
    steps = FakeSteps()
    rollout, state, _ = rollout_of(steps, tmp_path, undo="7")
    assert not rollout.run()
    assert state.units["a"].reason == "no single revision '7' on the unit (it has: 0001-aaaaaaaaaaaa, 0002-bbbbbbbbbbbb)"


def runs(*tok_s, ttft=200.0):
    return [{"output_throughput": t, "mean_ttft_ms": ttft} for t in tok_s]


def test_the_performance_gate_passes_a_change_within_the_noise_and_fails_a_halving_naming_both_figures():
    from thorfleet.rollout.perf_gate import judge

    ok, said = judge({"e": runs(98, 100, 103, 99, 101)}, {"e": runs(97, 99, 104, 100, 98)}, 0.10)
    assert ok and said == "e: output tok/s 100.0 → 99.0 (-1%), mean TTFT ms 200.0 → 200.0 (+0%): within tolerance"
    ok, said = judge({"e": runs(98, 100, 103, 99, 101)}, {"e": runs(49, 50, 51, 48, 52)}, 0.10)
    assert not ok and "output tok/s 100.0 → 50.0 (-50%)" in said
    assert ("REGRESSED: output tok/s 50% worse, beyond the 10% tolerance, runs after worse than runs before in 25 of 25 "
            "pairs (chance 0.4%)") in said
    ok, said = judge({"e": runs(100, 100, 100, 100, 100, ttft=200)}, {"e": runs(100, 100, 100, 100, 100, ttft=260)}, 0.10)
    assert not ok and "mean TTFT ms 30% worse" in said and "output tok/s" not in said.split("REGRESSED")[1]


def test_one_stray_run_before_does_not_hide_a_regression():
    """CI's lab once saw mean TTFT +176 % called within tolerance: one slow run before had widened the spread."""
    from thorfleet.rollout.perf_gate import judge

    before = runs(100, 100, 100, 100, ttft=35) + [{"output_throughput": 100, "mean_ttft_ms": 150}]
    ok, said = judge({"e": before}, {"e": runs(100, 100, 100, 100, 100, ttft=100)}, 0.10)
    assert not ok and "mean TTFT ms 186% worse" in said and "in 20 of 25 pairs (chance 2.4%)" in said


def test_the_gate_does_not_cry_wolf_on_noisy_runs_that_overlap():
    """The lab's two identical bench runs differed by up to -62 %: a median 30 % lower whose runs overlap is noise."""
    from thorfleet.rollout.perf_gate import judge

    ok, said = judge({"e": runs(60, 100, 160, 80, 130)}, {"e": runs(40, 60, 120, 70, 110)}, 0.10)
    assert ok and "(-30%)" in said


def test_an_engine_that_answered_before_but_not_after_fails_the_gate():
    from thorfleet.rollout.perf_gate import judge

    ok, said = judge({"e": runs(100), "f": runs(100)}, {"e": runs(100)}, 0.10)
    assert not ok and said.endswith("f: answered before the change, not after")


def test_a_canary_that_halves_its_throughput_fails_the_gate_and_goes_back_to_its_revision(tmp_path):
    steps = FakeSteps(slower_after=2.0)
    rollout, state, _ = rollout_of(steps, tmp_path, perf_gate=["a"])
    assert not rollout.run() and "batch 1" in state.stopped
    assert steps_of(steps, "a") == ["engines", "drain", "measure", "deploy", "gate", "measure", "revert 0002-bbbbbbbbbbbb",
                                    "engines", "ready"]
    a = state.units["a"]
    assert a.reason == "the performance gate failed" and "REGRESSED: output tok/s 50% worse" in a.perf
    assert a.rolled_back.startswith("rolled back: revision 0002")


def test_the_gate_measures_only_the_canary_and_passes_an_unchanged_speed(tmp_path):
    steps = FakeSteps()
    rollout, state, _ = rollout_of(steps, tmp_path, perf_gate=["a"])
    assert rollout.run() and state.units["a"].perf.endswith("within tolerance")
    assert "measure" not in steps_of(steps, "b") and state.units["b"].perf == ""
    assert steps.measured_like["e"][0]["prompts"] == 8  # after the change: the same prompts a run as before


def test_the_gates_runs_grow_to_fill_its_time_budget_within_bounds():
    from thorfleet.rollout.perf_gate import GateShape, scaled_prompts

    shape = GateShape()  # 4 prompts, concurrency 2, 5 runs
    assert scaled_prompts(shape, probe_s=1.0, budget_s=60) == 48  # 12 s a run: 12 times the probe's 4 prompts
    assert scaled_prompts(shape, probe_s=1.0, budget_s=61) == 48  # 48.8: a whole number of concurrent pairs
    assert scaled_prompts(shape, probe_s=0.1, budget_s=60) == 64  # a fast engine: at most most_prompts
    assert scaled_prompts(shape, probe_s=20.0, budget_s=60) == 4  # a slow one: never fewer than the shape's
    assert scaled_prompts(shape, probe_s=0.0, budget_s=60) == 64


def test_undo_of_a_rollout_takes_each_unit_it_deployed_to_its_revision_from_before_it(tmp_path):
    from thorfleet.commands.rollout import undo_targets
    from thorfleet.rollout.state import RolloutState

    steps = FakeSteps(revisions=("0001-aaaaaaaaaaaa", "0002-bbbbbbbbbbbb"), changes={"a", "b"})
    rollout, state, path = rollout_of(steps, tmp_path)
    assert rollout.run()
    targets = undo_targets(path)
    assert targets == {"a": "0002-bbbbbbbbbbbb", "b": "0002-bbbbbbbbbbbb"}  # c had nothing to change: not undone
    steps.recorded.append({"number": 3, "name": "0003-cccccccccccc"})  # what the rollout recorded
    undo = RolloutState("inventory/x.py", [["a"], ["b"]], 0.0, undo="", undo_to=targets)
    rollout, state, _ = rollout_of(steps, tmp_path, state=undo)
    assert rollout.run()
    assert [s for s in steps_of(steps, "a") if s.startswith("revert")][-1] == "revert 0002-bbbbbbbbbbbb"
    assert undo_targets(path) == {}  # the last one was an undo: the next goes back one revision a unit


@pytest.mark.parametrize("host, engine", [("thor-02", "gpt-oss-120b"), ("thor-01", "on-demand"), ("thor-01", "whisper")])
def test_a_stand_ins_unit_is_the_engines_installed_unit_with_only_its_port_moved(host, engine):
    """The shipped example's unit files, as the deploy renders them (ExecStart's flags on continued lines)."""
    from thorfleet.core.paths import unit_file, unit_name
    from thorfleet.fleet import load_fleet
    from thorfleet.host_files import host_files
    from thorfleet.roles.engines.stand_in import StandInFailed, stand_in_unit_file

    from ..conftest import ROOT

    fleet = load_fleet(ROOT / "inventory" / "lab.py", secrets=False)
    (installed,) = [f.content for f in host_files(fleet.hosts[host], fleet) if f.dest == unit_file(unit_name(engine))]
    port = fleet.hosts[host].config.engines[engine].port
    moved = stand_in_unit_file(engine, installed, port, port + 1000)
    changed = [(old, new) for old, new in zip(installed.splitlines(), moved.splitlines()) if old != new]
    assert [new for _, new in changed][0].startswith("Description=stand-in of thorfleet ")
    assert [(old.strip(), new.strip()) for old, new in changed[1:]] == [(f"--port {port} \\", f"--port {port + 1000} \\")]
    with pytest.raises(StandInFailed, match=f"has 0 `--port {port + 1}`, not one"):
        stand_in_unit_file(engine, installed, port + 1, port + 1000)
