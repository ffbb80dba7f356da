"""The image mirror: running, answering the registry API where configured, and refusing pushes."""

from thorfleet.core.checks import CheckedUnit
from thorfleet.roles.image_mirror.files import SERVICE


def test_the_mirror_is_enabled_and_running(unit: CheckedUnit) -> None:
    service = unit.host.service(SERVICE)
    assert service.is_enabled and service.is_running


def test_the_mirror_answers_the_registry_api_and_takes_no_push(unit: CheckedUnit) -> None:
    mirror = unit.config.image_mirror
    base = f"http://{mirror.bind if mirror.bind != '0.0.0.0' else '127.0.0.1'}:{mirror.port}/v2"
    assert unit.host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/") == "200"
    push = unit.host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' -X POST {base}/thorfleet-probe/blobs/uploads/")
    assert push in ("401", "405"), f"a push was answered {push}"
