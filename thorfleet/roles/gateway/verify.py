"""The gateway on its host: HAProxy running, listening where configured, every reachable engine up
behind it, the key checked, and each chat model answering through it from every unit serving it; and,
with each engine's unit, that engine up at every gateway and answering through it."""

import json
from collections.abc import Iterator

import pytest

from thorfleet.core.checks import CheckedUnit, EngineCase, for_each_routed_engine
from thorfleet.core.fleet import CHAT
from thorfleet.roles.gateway.routes import routed_at, routes_at
from thorfleet.roles.gateway.runtime import Gateway, get, smoke


@pytest.fixture(scope="module")
def gateway(unit: CheckedUnit) -> Iterator[tuple[Gateway, str]]:
    with Gateway(unit.fleet_host) as connected:
        with connected.endpoint() as base:
            yield connected, base


def _key(unit: CheckedUnit) -> str | None:
    return unit.config.gateway.api_key.read() if unit.config.gateway.api_key else None


def test_haproxy_is_enabled_and_running(unit: CheckedUnit) -> None:
    service = unit.host.service("haproxy")
    assert service.is_enabled and service.is_running


def test_gateway_listens_where_configured(unit: CheckedUnit) -> None:
    gateway = unit.config.gateway
    assert unit.host.socket(f"tcp://{gateway.bind}:{gateway.port}").is_listening


def test_the_gateway_has_every_reachable_engine_as_a_server(unit: CheckedUnit, gateway: tuple[Gateway, str]) -> None:
    connected, _ = gateway
    expected = {b.server for r in routes_at(unit.fleet, unit.name) for b in r.reachable}
    assert {row["server"] for row in connected.servers()} == expected


def test_v1_models_lists_the_fleets_models_and_the_key_is_checked(unit: CheckedUnit, gateway: tuple[Gateway, str]) -> None:
    _, base = gateway
    status, body = get(f"{base}/v1/models", _key(unit))
    assert status == 200, body
    routes = routes_at(unit.fleet, unit.name)
    assert sorted(m["id"] for m in json.loads(body)["data"]) == sorted(r.model for r in routes if r.serves == CHAT and r.reachable)
    if unit.config.gateway.api_key:
        assert get(f"{base}/v1/models", "not-the-key")[0] == 401


def test_each_chat_model_with_a_healthy_engine_answers_through_the_gateway(unit: CheckedUnit, gateway: tuple[Gateway, str]) -> None:
    # Each engine's own state and answer behind the gateway are checked with its unit (engines role):
    # a unit that is down fails there, not here.
    connected, base = gateway
    healthy = {row["backend"] for row in connected.servers() if row["status"].startswith("UP")}
    failed = []
    for route in routes_at(unit.fleet, unit.name):
        if route.serves == CHAT and route.backend in healthy:
            status, body = smoke(base, route, _key(unit))
            if status != 200:
                failed.append(f"{route.model}: HTTP {status} {body[:200]}")
    assert failed == []


@for_each_routed_engine
def test_engine_is_up_at_each_gateway_and_answers_through_it(case: EngineCase) -> None:
    """As clients reach it: the gateway's health check passes (DRAIN: a rollout is on this unit) and a
    request pinned to this engine through the gateway is answered. Run with the engine's own unit."""
    unit, name, _ = case
    for gateway_host, route, backend in routed_at(unit.fleet, unit.name, name):
        key = gateway_host.config.gateway.api_key
        with Gateway(gateway_host) as gateway, gateway.endpoint() as base:
            (state,) = [row["status"] for row in gateway.servers()
                        if (row["backend"], row["server"]) == (route.backend, backend.server)]
            assert state.startswith(("UP", "DRAIN")), f"{backend.server} is {state} at {gateway_host.name}"
            if route.serves == CHAT:
                status, body = smoke(base, route, key.read() if key else None, backend.server)
                assert status == 200, f"through {gateway_host.name}: HTTP {status} {body[:300]}"
