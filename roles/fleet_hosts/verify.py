"""Each unit resolves every other unit of the fleet (and the extras) to its address."""

from thorfleet.core.checks import CheckedUnit

from .files import entries


def test_every_unit_of_the_fleet_resolves_by_name(unit: CheckedUnit) -> None:
    wrong = []
    for address, names in entries(unit.fleet_host, unit.fleet):
        for name in names.split():
            found = unit.host.run(f"getent hosts {name}").stdout.split()
            if not found or found[0] != address:
                wrong.append(f"{name}: {found[:1] or 'not found'}, not {address}")
    assert wrong == []
