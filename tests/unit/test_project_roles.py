"""A fleet project's own roles (`roles/<name>/`, in `roles/order.yml`) and template overrides
(`templates/roles/<role>/x.j2`): loaded beside thorfleet's roles, validated like them, refused with the
file and reason when not right; the example's fleet_hosts role with fake facts."""

import importlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from thorfleet.core.render import project_templates
from thorfleet.fleet import ConfigError, load_fleet
from thorfleet.host_files import host_files

from .fake_host import run_operation


@pytest.fixture
def project(project_copy: Path) -> Path:
    """The example project (with its roles/), its hosts on a closed loopback port."""
    shutil.copytree(ROOT / "roles", project_copy / "roles", ignore=shutil.ignore_patterns("__pycache__"))
    return project_copy


def fleet_of(project: Path):
    return load_fleet(project / "inventory" / "lab.py", secrets=False)


def fleet_hosts_module(fleet, name: str):
    (role,) = [r for r in fleet.roles if r.name == "fleet_hosts"]
    return importlib.import_module(role.apply.__module__.rsplit(".", 1)[0] + "." + name)


def test_the_examples_own_role_is_loaded_after_thorfleets_and_applies_to_every_unit(project):
    fleet = fleet_of(project)
    assert [r.name for r in fleet.roles][-1] == "fleet_hosts" and [r.name for r in fleet.roles][:9] == list(fleet.hosts["thor-01"].config.roles)[:9]
    assert all(host.applies("fleet_hosts") for host in fleet.hosts.values())
    (hosts,) = [f for f in host_files(fleet.hosts["thor-01"], fleet) if f.dest == "/etc/hosts"]
    assert hosts.merged and "127.0.0.1" in hosts.content and "thor-02" in hosts.content  # copied hosts are on loopback
    assert "thor-01" not in hosts.content.replace("# BEGIN", "").splitlines()[1:-1]  # not itself


def test_its_operation_writes_the_block_once_and_keeps_the_units_own_lines(project):
    fleet = fleet_of(project)
    files, operations = fleet_hosts_module(fleet, "files"), fleet_hosts_module(fleet, "operations")
    with project_templates(fleet.config_dir):  # as the deploy renders it
        block = files.block(fleet.hosts["thor-01"], fleet)
    own = ["127.0.0.1 localhost", "10.0.0.9 printer"]
    commands, noops = run_operation(operations.hosts_block, {"FileContents": own}, block)
    (written,) = [c for c in commands if isinstance(c, tuple)]
    assert written[1].startswith("127.0.0.1 localhost\n10.0.0.9 printer\n\n# BEGIN thorfleet fleet_hosts")
    commands, noops = run_operation(operations.hosts_block, {"FileContents": written[1].splitlines()}, block)
    assert commands == [] and noops == ["/etc/hosts names the fleet's units"]
    edited = written[1].replace("thor-02", "thor-02 stale-name")
    commands, _ = run_operation(operations.hosts_block, {"FileContents": edited.splitlines()}, block)
    assert [c for c in commands if isinstance(c, tuple)][0][1] == written[1]  # put back


def test_a_project_template_replaces_the_shipped_one_by_name(project):
    override = project / "templates" / "roles" / "unit_metrics" / "node-exporter.default.j2"
    override.parent.mkdir(parents=True)
    override.write_text('# our own node exporter defaults\nARGS="{{ args }} --collector.systemd"\n')
    fleet = fleet_of(project)
    (defaults,) = [f for f in host_files(fleet.hosts["thor-01"], fleet) if f.dest == "/etc/default/prometheus-node-exporter"]
    assert defaults.content.startswith("# our own node exporter defaults") and "--collector.systemd" in defaults.content
    shipped = fleet_of(Path(ROOT))
    (theirs,) = [f for f in host_files(shipped.hosts["thor-01"], shipped) if f.dest == "/etc/default/prometheus-node-exporter"]
    assert "--collector.systemd" not in theirs.content  # another project's files are rendered with its own templates


def test_a_role_listed_in_roles_only_applies_where_the_host_names_it(project):
    (project / "host_vars" / "thor-01.yml").write_text("roles: [base, power, docker, builds, models, engines, unit_metrics]\n")
    fleet = fleet_of(project)
    assert not fleet.hosts["thor-01"].applies("fleet_hosts") and fleet.hosts["thor-02"].applies("fleet_hosts")


@pytest.mark.parametrize("breakage, file, reason", [
    (lambda roles: (roles / "extra").mkdir(), "roles/extra", "is not listed in roles/order.yml"),
    (lambda roles: (roles / "order.yml").write_text("- fleet_hosts\n- missing\n"), "roles/order.yml", "has no folder roles/missing"),
    (lambda roles: (roles / "order.yml").unlink(), "roles/order.yml", "is missing"),
    (lambda roles: (roles / "order.yml").write_text("fleet_hosts: yes\n"), "roles/order.yml", "must be a YAML list"),
    (lambda roles: (roles / "fleet_hosts" / "__init__.py").write_text("ROLE = None\n"), "roles/fleet_hosts/__init__.py",
     "does not define ROLE"),
    (lambda roles: (roles / "fleet_hosts" / "__init__.py").write_text("import nothing_of_that_name\n"),
     "roles/fleet_hosts/__init__.py", "cannot be imported: ModuleNotFoundError"),
])
def test_a_project_role_that_is_not_right_is_refused_with_its_file(project, monkeypatch, breakage, file, reason):
    monkeypatch.chdir(project)
    breakage(project / "roles")
    with pytest.raises(ConfigError) as caught:
        fleet_of(project)
    (issue,) = caught.value.issues
    assert issue.file == file and reason in issue.reason, caught.value.format()


def test_a_project_role_may_not_take_a_shipped_name_or_key(project, monkeypatch):
    monkeypatch.chdir(project)
    init = project / "roles" / "fleet_hosts" / "__init__.py"
    init.write_text(init.read_text().replace('config={"fleet_hosts"', 'config={"engines"'))
    with pytest.raises(ConfigError, match="its keys \\['engines'\\] belong to another role"):
        fleet_of(project)
