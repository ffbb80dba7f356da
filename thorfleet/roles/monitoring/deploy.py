"""The monitoring role: Prometheus from the distribution's packages, scraping the whole fleet."""

from pyinfra.api.deploy import deploy
from pyinfra.operations import systemd

from thorfleet.core.apt import apt_packages
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.roles.monitoring.files import PACKAGE, SERVICE, defaults_file, folder_files
from thorfleet.roles.monitoring.operations import prometheus_folder
from thorfleet.roles.monitoring.targets import scrape_jobs


@deploy("monitoring")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    apt_packages(name="Prometheus", packages=[PACKAGE], _sudo=True)
    files = folder_files(unit, fleet)
    jobs = scrape_jobs(fleet, unit.name)
    prometheus_folder(name=f"Prometheus scrapes {sum(len(j.targets) for j in jobs)} targets in {len(jobs)} jobs", files=files, _sudo=True)
    arguments = files_installed(name="Prometheus's arguments (listen address, retention)", files=[defaults_file(config)], _sudo=True)
    systemd.service(name="Prometheus restarted for its new arguments", service=SERVICE, running=True, restarted=True, _sudo=True,
                    _if=arguments.did_change)
    systemd.service(name="Prometheus running and enabled", service=SERVICE, running=True, enabled=True, _sudo=True)
