"""What the engines role tells the rest of the fleet: every engine as an endpoint (core/fleet.py), the
memory plan of each unit, and the warnings that need what the controller knows of the models."""

from collections.abc import Callable, Iterator
from typing import Any

from thorfleet.core.fleet import MODEL_FACTS, EngineEndpoint, FleetHost, FleetProblem, FleetView
from thorfleet.core.model_shape import ModelFacts
from thorfleet.core.role import Problem
from thorfleet.roles.engines.config import ContainerEngine, NativeEngine
from thorfleet.roles.engines.memory import host_plan, plan_advice, plan_problems

ROLE = "engines"


def endpoints(fleet: FleetView) -> tuple[EngineEndpoint, ...]:
    """Every model each engine the hosts' configurations declare serves (one for most kinds, each of a
    llama-router's; a host that does not apply the engines role still has its engines' builds and
    models made: `deployed` says whether it runs them)."""
    found = []
    for host in fleet.hosts.values():
        for name, engine in host.config.engines.items():
            for served, model in engine.served(name):
                found.append(EngineEndpoint(
                    unit=host.name, engine=name, kind=engine.kind, served_name=served,
                    serves=engine.serves or "", bind=engine.bind, port=engine.port, health_path=engine.health_path,
                    api_key=engine.api_key, metrics=engine.metrics,
                    build=engine.build if isinstance(engine, NativeEngine) else None,
                    image=engine.image if isinstance(engine, ContainerEngine) else None, model=model,
                    deployed=host.applies(ROLE)))
    return tuple(found)


def _facts_of(host: FleetHost, fleet: FleetView) -> Callable[[Any], ModelFacts | None]:
    known = fleet.fact(MODEL_FACTS)
    return lambda model: known(model, host.config.model_store)


def memory_room(host: FleetHost, fleet: FleetView, twice: list[str]) -> tuple[int | None, int]:
    """(what the unit's engines need with those named in `twice` counted twice, as while a rollout runs a
    stand-in of each beside it; None when a need is not known on this controller), the room for engines."""
    plan = {need.name: need for need in host_plan(host.config, _facts_of(host, fleet))}
    needs = [*plan.values(), *(plan[name] for name in twice)]
    known = all(need.known for need in needs)
    return (sum(need.total for need in needs) if known else None), host.config.memory.for_engines


def memory_problems(fleet: FleetView) -> Iterator[FleetProblem]:
    """A unit whose engines cannot fit in its memory, unless the command shows the plan instead."""
    if not fleet.memory_plan:
        return
    for host in fleet.hosts.values():
        for path, reason in plan_problems(host.config, _facts_of(host, fleet)):
            yield FleetProblem(host.name, tuple(path), reason)


def advice(host: FleetHost, fleet: FleetView) -> Iterator[Problem]:
    for name, engine in host.config.engines.items():
        yield from ((("engines", name, *path), reason) for path, reason in engine.advice(host.config))
    yield from plan_advice(host.config, _facts_of(host, fleet))
