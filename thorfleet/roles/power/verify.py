"""The power role on each unit: nvpmodel mode and locked clocks."""

from typing import Any

from pyinfra.api.facts import FactBase

from thorfleet.core.checks import CheckedUnit
from thorfleet.core.paths import CLOCKS_UNIT
from thorfleet.roles.power.facts import JetsonClocks, NvpmodelMode, NvpmodelModes
from thorfleet.roles.power.operations import resolve_mode


def parse(fact: type[FactBase[Any]], output: str) -> Any:
    return fact().process(output.splitlines())


def test_power_mode_is_the_configured_one(unit: CheckedUnit) -> None:
    modes = parse(NvpmodelModes, unit.host.check_output("cat /etc/nvpmodel.conf"))["modes"]
    current = parse(NvpmodelMode, unit.host.check_output("nvpmodel -q"))
    assert current["id"] == resolve_mode(unit.config.power.mode, modes), current


def test_clocks_follow_the_config(unit: CheckedUnit) -> None:
    with unit.host.sudo():
        clocks = parse(JetsonClocks, unit.host.check_output("jetson_clocks --show"))
    timer, service = unit.host.service(f"{CLOCKS_UNIT}.timer"), unit.host.service(f"{CLOCKS_UNIT}.service")
    if unit.config.power.clocks == "locked":
        assert timer.is_enabled and service.is_running, "the clocks unit is not enabled and active"
        assert clocks["locked"], f"not locked: {clocks['unlocked']}"
    else:
        assert not timer.is_enabled and not clocks["locked"]
