"""A candidate llama-server on the unit itself: a transient systemd unit on a scratch loopback port,
with the hardening of the engine's own unit (its [Service] lines, as rendered), after the same
flag check the deploy makes; and `llama-bench` run the same way for the cheap first stage."""

import shlex
import urllib.request

from thorfleet.core.paths import unit_name
from thorfleet.core.ssh import run
from thorfleet.core.wait import wait_until
from thorfleet.roles.engines.files import engine_files
from thorfleet.roles.engines.flags import command_line_problems

# [Service] keys that belong to the long-lived unit, not to a measurement.
NOT_FOR_A_CANDIDATE = {"Type", "ExecStart", "ExecStartPre", "Restart", "RestartSec", "TimeoutStartSec"}


class Infeasible(Exception):
    """The candidate did not start, did not load, or was refused by the flag check."""


def service_properties(config, name: str, engine) -> list[str]:
    """`-p KEY=VALUE` for systemd-run, from the engine's rendered unit file."""
    unit = engine_files(config, name, engine)[0].content
    section = unit.split("[Service]", 1)[1].split("[Install]", 1)[0].replace("\\\n", " ")  # continued lines joined
    words = []
    for line in section.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and line.split("=", 1)[0] not in NOT_FOR_A_CANDIDATE:
            words += ["-p", line]
    return words


def scratch_unit(name: str) -> str:
    return f"{unit_name(name)}-tune"


def start(client, config, name: str, engine, argv: list[str]) -> None:
    """Check the command line against the program's --help, then start it as a transient unit."""
    help_text = run(client, f"{shlex.quote(argv[0])} --help 2>&1")
    problems = command_line_problems(engine.kind, help_text, argv, argv[:1])
    if problems:
        raise Infeasible("flag check: " + "; ".join(problems))
    stop(client, name)
    command = shlex.join(["sudo", "-n", "systemd-run", "--quiet", "--collect", f"--unit={scratch_unit(name)}",
                          *service_properties(config, name, engine), "--", *argv])
    _, stdout, stderr = client.exec_command(command, timeout=60)
    if stdout.channel.recv_exit_status() != 0:
        raise Infeasible(f"systemd-run: {stderr.read().decode(errors='replace').strip()[:300]}")


def wait_healthy(client, name: str, base_url: str, timeout: float) -> float:
    def healthy() -> bool:
        state = run(client, f"systemctl is-active {shlex.quote(scratch_unit(name))}").strip()
        if state not in ("active", "activating", ""):
            raise Infeasible(f"exited while loading ({state}): {journal_tail(client, name)}")
        try:
            return bool(urllib.request.urlopen(base_url + "/health", timeout=5).status == 200)
        except OSError:
            return False

    waited = wait_until(healthy, timeout, interval=1)
    if waited is None:
        raise Infeasible(f"not healthy after {timeout:.0f} s: {journal_tail(client, name)}")
    return waited


def journal_tail(client, name: str) -> str:
    lines = run(client, f"sudo -n journalctl -u {shlex.quote(scratch_unit(name))} -n 40 --no-pager -o cat")
    useful = [line for line in lines.splitlines() if any(w in line.lower() for w in ("error", "fail", "memory", "abort"))]
    return " | ".join(useful[-3:]) or "no error in its log"


def stop(client, name: str) -> None:
    unit = shlex.quote(scratch_unit(name))
    run(client, f"sudo -n systemctl stop {unit}; sudo -n systemctl reset-failed {unit}")


def llama_bench(client, config, name: str, engine, argv: list[str], timeout: float) -> str:
    """llama-bench's output, run like a candidate (the engine's user and sandbox)."""
    command = shlex.join(["sudo", "-n", "systemd-run", "--quiet", "--collect", "--wait", "--pipe",
                          f"--unit={scratch_unit(name)}-bench", *service_properties(config, name, engine), "--", *argv])
    return run(client, command, timeout=timeout)
