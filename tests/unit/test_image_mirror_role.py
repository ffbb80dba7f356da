"""The image_mirror role: its settings, the files it writes, where units find it, and the deploy's order."""

import pytest

from thorfleet.core.fleet import IMAGE_MIRRORS
from thorfleet.fleet import ConfigError
from thorfleet.fleet.schema import HostConfig
from thorfleet.roles.docker.deploy import first_puller, images_pulled
from thorfleet.roles.image_mirror.files import CONFIG, SERVICE, plain_files

from .helpers import fleet_of

LAN_MIRROR = {"bind": "10.0.0.3", "allow_unauthenticated": True}
GROUPS = {"llm": ["thor-01", "thor-02"], "image_mirror": ["thor-03"]}


def test_a_mirror_on_the_lan_must_be_allowed_explicitly(tmp_path):
    with pytest.raises(ConfigError) as caught:
        fleet_of(tmp_path, {"host_vars/thor-03.yml": {"image_mirror": {"bind": "10.0.0.3"}}}, GROUPS)
    assert any("image_mirror.bind" in str(i) and "allow_unauthenticated: true" in str(i) for i in caught.value.issues)


def test_the_registry_is_a_pull_through_cache_of_its_upstream_in_a_sandboxed_unit():
    config = HostConfig.model_validate({"image_mirror": {**LAN_MIRROR, "upstream": "https://registry-1.docker.io"}})
    files = {f.dest: f.content for f in plain_files(config)}
    registry, unit = files[CONFIG], files[f"/etc/systemd/system/{SERVICE}.service"]
    assert "addr: 10.0.0.3:5000" in registry and "remoteurl: https://registry-1.docker.io" in registry
    assert "User=docker-registry" in unit and "ReadWritePaths=/var/lib/thorfleet-image-mirror" in unit
    assert f"docker-registry serve {CONFIG}" in unit


def test_units_find_the_fleets_mirrors_and_one_unit_pulls_each_image_first(tmp_path):
    fleet = fleet_of(tmp_path, {"host_vars/thor-03.yml": {"image_mirror": LAN_MIRROR},
                                "group_vars/llm.yml": {"docker": {"pull_images": ["vllm/vllm-openai:v0.11.0"]}}}, GROUPS)
    assert fleet.fact(IMAGE_MIRRORS) == ["http://10.0.0.3:5000"]
    assert images_pulled(fleet.hosts["thor-02"], fleet) == ["vllm/vllm-openai:v0.11.0"]
    reached = {"thor-01", "thor-02", "thor-03"}
    assert first_puller(fleet, "vllm/vllm-openai:v0.11.0", reached) == "thor-01"
    assert first_puller(fleet, "vllm/vllm-openai:v0.11.0", reached - {"thor-01"}) == "thor-02"  # --limit


def test_a_mirror_on_loopback_serves_no_unit(tmp_path):
    fleet = fleet_of(tmp_path, {}, GROUPS)
    assert fleet.fact(IMAGE_MIRRORS) == []
    assert fleet.hosts["thor-03"].applies("image_mirror") and not fleet.hosts["thor-01"].applies("image_mirror")
