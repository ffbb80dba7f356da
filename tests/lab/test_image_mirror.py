"""The image_mirror role in the lab: sim-03 mirrors the lab's stand-in for Docker Hub, two units pull a
stand-in image through it, and the upstream serves each layer to the mirror only (issue 29)."""

import json
import re

import pytest

from thorfleet.lab import container_images, layout, services

from .helpers import ROOT, converge, project_with, ssh, thorfleet

pytestmark = pytest.mark.lab
IMAGE = "thorfleet-lab/vllm:standin"
PULLERS = ("sim-01", "sim-02")
MIRROR = {"bind": "10.231.0.13", "allow_unauthenticated": True, "upstream": f"http://{layout.CONTROLLER_ADDRESS}:{layout.REGISTRY_PORT}"}


@pytest.fixture(scope="module")
def project(lab_units, tmp_path_factory):
    path = project_with(tmp_path_factory.mktemp("mirror"), {
        "sim-03": {"roles": ["base", "image_mirror"], "image_mirror": MIRROR},
        **{h: {"roles": ["base", "docker"], "docker": {"pull_images": [IMAGE]}} for h in PULLERS}})
    text = path.read_text()
    path.write_text(text.replace("attach_config(globals())", 'image_mirror = ["sim-03"]\n\nattach_config(globals())'))
    return path


def upstream_blob_fetches() -> list[tuple[str, str]]:
    """(client, digest) of every blob the lab's registry served."""
    found = re.findall(r'^(\S+) .*"GET /v2/[^ ]+/blobs/(sha256:[0-9a-f]+) HTTP', services.REGISTRY_LOG.read_text(), re.M)
    return [(client, digest) for client, digest in found]


def test_units_pull_through_the_mirror_and_the_upstream_serves_each_layer_to_the_mirror_only(lab_units, project):
    pullers = [u for u in lab_units if u.name in PULLERS]
    for unit in pullers:
        ssh(unit, f"sudo docker rmi -f {' '.join(container_images.TAGS)}")
    ssh(lab_units[2], "sudo systemctl stop thorfleet-image-mirror 2>/dev/null; sudo rm -rf /var/lib/thorfleet-image-mirror")
    before = len(upstream_blob_fetches())
    result = converge(project)
    assert result.returncode == 0, result.output[-4000:]
    for unit in pullers:
        daemon = json.loads(ssh(unit, "sudo cat /etc/docker/daemon.json").stdout)
        assert daemon["registry-mirrors"] == ["http://10.231.0.13:5000"]
        found = ssh(unit, f"sudo docker image inspect --format '{{{{.Id}}}}' {IMAGE}").stdout.strip()
        assert found == container_images.image_id(), unit.name
    fetched = upstream_blob_fetches()[before:]
    assert fetched and {client for client, _ in fetched} == {"10.231.0.13"}, fetched  # only the mirror went upstream
    per_layer = {digest: sum(1 for _, d in fetched if d == digest) for _, digest in fetched}
    # distribution 2.8 fetches a blob twice on its first miss (one stream to the client, one into its
    # storage); the deploy lets one unit pull first, so the others' pulls are all served from storage.
    assert set(per_layer.values()) == {2}, per_layer
    assert "each first by one unit, through the mirror" in result.output
    closing = result.output.split("Artifacts placed by this deploy", 1)[1]
    for unit in PULLERS:  # the deploy's closing table names the mirror
        assert re.search(rf"│ {unit} +│ image {IMAGE} +│ +- │ +[\d.]+ │ pulled \(the mirror\) +│ [\d.]+ s", closing), closing
    again = converge(project)
    assert again.returncode == 0 and again.changed() == [], again.changed()
    checked = thorfleet("verify", str(project), "--limit", "sim-03", cwd=ROOT)
    assert checked.returncode == 0, checked.stdout[-3000:]  # the mirror's checks among them: /v2/ answers, no push
    for unit in pullers:  # a unit pulling later: everything from the mirror
        ssh(unit, f"sudo docker rmi -f {IMAGE}")
    settled = len(upstream_blob_fetches())
    assert converge(project).returncode == 0
    assert len(upstream_blob_fetches()) == settled

