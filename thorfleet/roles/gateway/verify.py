"""The gateway on its host: HAProxy running, listening where configured, every reachable engine up
behind it, the key checked, and each chat model answering through it from every unit serving it."""

import json

import pytest

from thorfleet.roles.gateway.runtime import Gateway, get, smoke


@pytest.fixture(scope="module")
def gateway(unit):
    with Gateway(unit.fleet_host) as connected:
        with connected.endpoint() as base:
            yield connected, base


def _key(unit):
    return unit.config.gateway.api_key.read() if unit.config.gateway.api_key else None


def test_haproxy_is_enabled_and_running(unit):
    service = unit.host.service("haproxy")
    assert service.is_enabled and service.is_running


def test_gateway_listens_where_configured(unit):
    gateway = unit.config.gateway
    assert unit.host.socket(f"tcp://{gateway.bind}:{gateway.port}").is_listening


def test_the_gateway_has_every_reachable_engine_as_a_server(unit, gateway):
    connected, _ = gateway
    expected = {b.server for r in connected.routes for b in r.reachable}
    assert {row["server"] for row in connected.servers()} == expected


def test_v1_models_lists_the_fleets_models_and_the_key_is_checked(unit, gateway):
    connected, base = gateway
    status, body = get(f"{base}/v1/models", _key(unit))
    assert status == 200, body
    assert sorted(m["id"] for m in json.loads(body)["data"]) == sorted(r.model for r in connected.routes if r.serves == "chat" and r.reachable)
    if unit.config.gateway.api_key:
        assert get(f"{base}/v1/models", "not-the-key")[0] == 401


def test_each_chat_model_with_a_healthy_engine_answers_through_the_gateway(unit, gateway):
    # Each engine's own state and answer behind the gateway are checked with its unit (engines role):
    # a unit that is down fails there, not here.
    connected, base = gateway
    healthy = {row["backend"] for row in connected.servers() if row["status"].startswith("UP")}
    failed = []
    for route in connected.routes:
        if route.serves == "chat" and route.backend in healthy:
            status, body = smoke(base, route, _key(unit))
            if status != 200:
                failed.append(f"{route.model}: HTTP {status} {body[:200]}")
    assert failed == []
