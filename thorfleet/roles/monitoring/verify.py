"""Prometheus on the monitoring host: running, listening where configured, the rendered rules loaded,
and every target it scrapes up."""

from collections.abc import Iterator
from typing import Any

import pytest

from thorfleet.core.checks import CheckedUnit
from thorfleet.core.wait import wait_until
from thorfleet.roles.monitoring.files import SERVICE
from thorfleet.roles.monitoring.runtime import Prometheus, connect
from thorfleet.roles.monitoring.targets import scrape_jobs


@pytest.fixture(scope="module")
def prometheus(unit: CheckedUnit) -> Iterator[Prometheus]:
    with connect(unit.fleet_host) as client:
        yield client


def test_prometheus_is_enabled_and_running(unit: CheckedUnit) -> None:
    service = unit.host.service(SERVICE)
    assert service.is_enabled and service.is_running


def test_prometheus_listens_where_configured(unit: CheckedUnit) -> None:
    monitoring = unit.config.monitoring
    assert unit.host.socket(f"tcp://{monitoring.bind}:{monitoring.port}").is_listening


def test_every_rendered_target_is_scraped_and_this_units_are_up(unit: CheckedUnit, prometheus: Prometheus) -> None:
    wanted = {(job.name, target) for job in scrape_jobs(unit.fleet, unit.name) for group in job.targets for target in group["targets"]}
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def scraped() -> bool:  # a target just added is "unknown" until its first scrape
        found.clear()
        found.update({(t["labels"]["job"], t["labels"]["instance"]): t for t in prometheus.targets() if t["labels"]["job"] != "prometheus"})
        return all(t["health"] != "unknown" for t in found.values())

    wait_until(scraped, 60, interval=1)
    assert set(found) == wanted
    # Other units' targets are each unit's own check (and an alert): a rollout's gate on this host must
    # not fail because another unit is cut off meanwhile.
    down = [f"{job} {instance}: {t['lastError'] or t['health']}" for (job, instance), t in found.items()
            if t["health"] != "up" and t["labels"].get("unit") == unit.name]
    assert down == []


def test_the_alert_rules_are_loaded(prometheus: Prometheus) -> None:
    rules = prometheus.rules()
    assert any(rule["name"] == "EngineDown" for group in rules for rule in group["rules"])
