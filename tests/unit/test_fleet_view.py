"""The fleet view (core/fleet.py): facts computed once, on first use, from the view; a fact no role
provides or two facts that need each other are errors that say which; the example's facts."""

from pathlib import Path

import pytest

from tests.conftest import ROOT
from thorfleet.core.fleet import ENGINE_ENDPOINTS, FactKey, FleetError, FleetHost, FleetView, endpoints_of
from thorfleet.fleet import load_fleet

A: FactKey[int] = FactKey("test.a")
B: FactKey[int] = FactKey("test.b")


def view(providers) -> FleetView:
    return FleetView(Path("inventory/x.py"), Path("."), {"u": FleetHost("u", ("g",), None, {"ssh_hostname": "10.0.0.1"}, ("r",))},
                     providers)


def test_a_fact_is_computed_once_from_the_view_and_may_read_others():
    calls = []
    fleet = view({A.name: lambda f: calls.append("a") or 2, B.name: lambda f: f.fact(A) * 10})
    assert fleet.fact(B) == 20 and fleet.fact(A) == 2 and fleet.fact(B) == 20
    assert calls == ["a"]
    assert [h.name for h in fleet.with_role("r")] == ["u"] and fleet.with_role("other") == []
    assert fleet.hosts["u"].address == "10.0.0.1"


def test_facts_that_need_each_other_and_a_fact_nobody_provides_say_which():
    fleet = view({A.name: lambda f: f.fact(B), B.name: lambda f: f.fact(A)})
    with pytest.raises(FleetError, match="test.a -> test.b -> test.a"):
        fleet.fact(A)
    with pytest.raises(FleetError, match="no role provides the fleet fact 'test.c'"):
        view({}).fact(FactKey("test.c"))


def test_the_examples_engines_are_endpoints_every_role_reads_the_same_way():
    fleet = load_fleet(ROOT / "inventory" / "lab.py", secrets=False)
    endpoints = {(e.unit, e.engine): e for e in fleet.fact(ENGINE_ENDPOINTS)}
    qwen = endpoints["thor-01", "qwen3-8b"]
    assert (qwen.kind, qwen.served_name, qwen.port, qwen.build, qwen.model) == ("llama-server", "qwen3", 8000, "llama_cpp", "qwen3-8b-gguf")
    assert endpoints["thor-03", "qwen3-vllm"].image and endpoints["thor-03", "qwen3-vllm"].build is None
    assert {e.engine for e in endpoints_of(fleet, "thor-02")} == {"qwen3-coder", "gpt-oss-120b"}
