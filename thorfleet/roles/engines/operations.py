"""Operations of the engines role: flags checked, engines (re)started only on change, removed engines."""

import json
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand

from thorfleet.core.accounts import Accounts
from thorfleet.core.paths import ENGINE_STATE_DIR, unit_name
from thorfleet.roles.engines.commands import owned_files, state_record
from thorfleet.roles.engines.facts import EngineState, ImageHelp, InstalledEngines, ProgramHelp
from thorfleet.roles.engines.flags import command_line_problems
from thorfleet.core.failure import failure


@operation()
def service_user(user: str, groups: list[str]):
    """The unprivileged system user native engines run as, with no login and no home, in those of
    `groups` the unit has (Jetson's GPU device nodes belong to video and render)."""
    found = host.get_fact(Accounts, users=[user], groups=groups)
    wanted = sorted(g for g in groups if found["groups"].get(g))
    has = found["users"].get(user)
    if has is None:
        yield StringCommand("useradd", "--system", "--shell", "/usr/sbin/nologin", "--home-dir", QuoteString(f"/var/lib/{user}"),
                            "--no-create-home", *(["--groups", ",".join(wanted)] if wanted else []), QuoteString(user))
        return
    missing = [g for g in wanted if g not in has]
    if not missing:
        host.noop(f"service user {user} exists, in {', '.join(wanted) or 'no extra groups'}")
        return
    yield StringCommand("usermod", "--append", "--groups", ",".join(missing), QuoteString(user))


@operation()
def flags_accepted(engine_name: str, kind: str, argv: list[str], fingerprint: dict, image: str | None = None,
                   entry: list[str] | None = None):
    """Every flag of the engine's command line is one the installed engine accepts: its program's
    --help (native), or the --help of the image's entry command, run in the image (containers).
    Otherwise the host fails here, before the unit is touched, naming the flag and the version.
    Checked whenever the engine is about to be (re)started: not while it runs this very fingerprint."""
    name = engine_name
    state = host.get_fact(EngineState, engine_name=name, unit=unit_name(name))
    if state["active"] and state["running"] == fingerprint:
        host.noop(f"engine {name}: runs this command line already (checked before it started)")
        return
    if image:
        found = host.get_fact(ImageHelp, image=image, entry=entry)
        absent = f"engine {name}: image {image} is not on the unit (the engines role pulls or loads it first)"
    else:
        found = host.get_fact(ProgramHelp, binary=argv[0])
        absent = f"engine {name}: {argv[0]} is not installed (the builds role installs it)"
    if found is None:
        yield failure(absent)
        return
    engine, command = f"{kind} ({found['version']})", entry or argv[:1]
    problems = command_line_problems(kind, found["help"], argv, command)
    if problems:
        yield failure(f"engine {name}: {engine} rejects its command line, so its unit was left as it was: "
                      f"{'; '.join(problems)}")
    else:
        host.noop(f"engine {name}: {engine} accepts its {len(argv) - len(command)} arguments")


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
    record = state_record(name)
    yield f"mkdir -p {ENGINE_STATE_DIR}"
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
        yield f"systemctl disable --now {unit}.service 2>/dev/null; rm -f {shlex.join(owned_files(name))}"
    yield "systemctl daemon-reload"
