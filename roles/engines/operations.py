"""Operations of the engines role: flags checked, engines (re)started only on change, removed engines."""

import json
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.command import FileUploadCommand

from roles.engines.commands import ENGINE_CONFIG_DIR, unit_name
from roles.engines.facts import STATE_DIR, EngineState, InstalledEngines, ProgramHelp
from roles.engines.flags import check_argv, parse_help
from thorfleet.failure import failure


@operation()
def flags_accepted(engine_name: str, kind: str, argv: list[str]):
    """Every flag of the engine's new command line is one the installed program accepts (its --help):
    otherwise the host fails here, before its unit is touched, naming the flag and the version."""
    name = engine_name
    found = host.get_fact(ProgramHelp, binary=argv[0])
    if found is None:
        yield failure(f"engine {name}: {argv[0]} is not installed (the builds role installs it)")
        return
    problems = check_argv(kind, argv, parse_help(found["help"]))
    if not problems:
        host.noop(f"engine {name}: {kind} ({found['version']}) accepts its {len(argv) - 1} arguments")
        return
    lines = [f"{p.flag} {p.reason}" + (f"; {p.suggestion}" if p.suggestion else "") for p in problems]
    yield failure(f"engine {name}: {kind} ({found['version']}) rejects its command line, so its unit was left "
                  f"as it was: {'; '.join(lines)}")


def health_command(unit: str, url: str, timeout: int) -> str:
    """Wait until the engine answers (200) or fail with the end of its journal."""
    return (
        f"for i in $(seq {timeout}); do curl -fsS -o /dev/null {shlex.quote(url)} && exit 0; "
        f"systemctl is-failed --quiet {unit}.service && break; sleep 1; done; "
        f"echo 'thorfleet: {unit} did not answer {url} within {timeout} s; its last journal lines:' >&2; "
        f"journalctl -u {unit}.service -n 20 --no-pager -o cat >&2; exit 1"
    )


@operation()
def engine_running(engine_name: str, fingerprint: dict, health_url: str, timeout: int):
    """The engine is enabled and running what the config says: it is (re)started only when its unit,
    environment, build, image or model changed (the fingerprint), then must answer `health_url`."""
    name, unit = engine_name, unit_name(engine_name)
    state = host.get_fact(EngineState, engine_name=name, unit=unit)
    if state["active"] and state["enabled"] and state["running"] == fingerprint:
        host.noop(f"engine {name} runs its current configuration")
        return
    if not state["enabled"]:
        yield f"systemctl enable {unit}.service"
    changed = [k for k in fingerprint if (state["running"] or {}).get(k) != fingerprint[k]]
    yield f"echo 'thorfleet: (re)starting {unit}: {', '.join(changed) or 'not running'} changed' && systemctl restart {unit}.service"
    yield health_command(unit, health_url, timeout)
    record = f"{STATE_DIR}/{name}.json"
    yield f"mkdir -p {STATE_DIR}"
    yield FileUploadCommand(StringIO(json.dumps(fingerprint, sort_keys=True)), record,
                            remote_temp_filename=host.get_temp_filename(record))


@operation()
def engines_removed(keep: list[str]):
    """Engines no longer in the config: stopped, disabled, and their unit and files removed."""
    gone = [n for n in host.get_fact(InstalledEngines) if n not in keep]
    if not gone:
        host.noop("no removed engines to clean up")
        return
    for name in gone:
        unit = unit_name(name)
        yield (
            f"systemctl disable --now {unit}.service 2>/dev/null; "
            f"rm -f /etc/systemd/system/{unit}.service {ENGINE_CONFIG_DIR}/{name}.env {ENGINE_CONFIG_DIR}/{name}.secret.env "
            f"{ENGINE_CONFIG_DIR}/{name}.api-key {STATE_DIR}/{name}.json"
        )
    yield "systemctl daemon-reload"
