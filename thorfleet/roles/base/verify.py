"""The base role on each unit: packages, authorized keys, jetson-stats."""

from thorfleet.core.checks import CheckedUnit
from thorfleet.roles.base.operations import key_id


def test_apt_packages_are_installed(unit: CheckedUnit) -> None:
    base = unit.config.base
    missing = [p for p in base.apt_packages + base.jetpack if not unit.host.package(p).is_installed]
    assert not missing, f"not installed: {missing}"


def test_authorized_keys_are_present(unit: CheckedUnit) -> None:
    keys = unit.host.file(f"/home/{unit.host.user().name}/.ssh/authorized_keys")
    present = {key_id(line) for line in keys.content_string.splitlines()} if keys.exists else set()
    assert {key_id(k) for k in unit.config.base.authorized_keys} <= present


def test_jetson_stats_is_installed_at_its_pin(unit: CheckedUnit) -> None:
    if not unit.config.base.jetson_stats:
        return
    version = unit.host.check_output("python3 -c 'import importlib.metadata as m; print(m.version(\"jetson-stats\"))'")
    assert version == unit.config.base.jetson_stats_version
    assert unit.host.service("jtop").is_enabled
