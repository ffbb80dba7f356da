"""`thorfleet verify INVENTORY`: the roles' testinfra checks (thorfleet/roles/<role>/verify.py) against
an inventory's hosts, with a summary per host; and `thorfleet validate --against HOST`: engine flags
against what is installed."""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

from thorfleet.core.role import Role
from thorfleet.fleet import Fleet


def check_modules(roles: tuple[Role, ...]) -> list[str]:
    """The files of every role's checks: thorfleet's from the installed package, a project's own from
    its roles/ folder."""
    found = []
    for role in roles:
        spec = find_spec(role.checks) if role.checks else None
        if spec is not None and spec.origin:
            found.append(spec.origin)
    return found


def run_suite(fleet: Fleet, limit: str | None, hosts: list[str], quiet: bool = False) -> tuple[int, dict[str, Counter], list[str]]:
    """(pytest's exit status, per host: passed/failed/skipped counts, the failures' ids); `quiet`
    keeps pytest's own output off the terminal."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        # No configuration file of the working directory applies: the checks run as installed.
        command = [sys.executable, "-m", "pytest", *check_modules(fleet.roles), "-q", "-p", "no:cacheprovider",
                   "-p", "thorfleet.verify.plugin", "-c", os.devnull, "--rootdir", scratch,
                   "--inventory", str(fleet.inventory), f"--junitxml={report}"]
        if limit:
            command += ["--limit", limit]
        status = subprocess.call(command, stdout=subprocess.DEVNULL if quiet else None)
        if not report.exists():
            return status, {}, []
        tree = ElementTree.parse(report)
    per_host: dict[str, Counter] = {h: Counter() for h in hosts}
    failures = []
    for case in tree.iter("testcase"):
        test_id = case.get("name", "")
        param = test_id[test_id.find("[") + 1:-1] if "[" in test_id else ""
        host = next((h for h in sorted(hosts, key=len, reverse=True) if param == h or param.startswith(h + "-")), None)
        if host is None:
            continue
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        per_host[host][outcome] += 1
        if outcome == "failed":
            failures.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{test_id}")
    return status, per_host, failures


def check_installed_engines(fleet_host) -> list[str]:
    """Each engine's rendered command line against what is installed on the host: the native
    program's --help, or the --help of the entry command in the engine's image (the same facts the
    deploy reads before it restarts an engine)."""
    from thorfleet.core.ssh import testinfra_host
    from thorfleet.roles.engines.commands import engine_argv
    from thorfleet.roles.engines.config import NativeEngine
    from thorfleet.roles.engines.facts import ImageHelp, ProgramHelp
    from thorfleet.roles.engines.flags import command_line_problems

    host, config, found = testinfra_host(fleet_host), fleet_host.config, []
    for name, engine in config.engines.items():
        argv = engine_argv(config, name, engine)[-1]
        if isinstance(engine, NativeEngine):
            fact, command, missing = ProgramHelp(), argv[:1], f"{argv[0]} is not installed"
            shell = fact.command(argv[0])
        else:
            fact, command, missing = ImageHelp(), list(engine.entry_command), f"image {engine.image} is not on the host"
            shell = fact.command(engine.image, command)
        with host.sudo():
            ran = host.run(shell)
        help_found = fact.process(ran.stdout.splitlines())
        if help_found is None:
            found.append(f"engine {name}: {missing}")
            continue
        for problem in command_line_problems(engine.kind, help_found["help"], argv, command):
            found.append(f"engine {name}: {engine.kind} ({help_found['version']}) {problem}")
    return found
