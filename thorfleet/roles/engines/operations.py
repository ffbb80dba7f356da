"""Operations of the engines role: the service user, each engine (flags checked, files and key installed,
restarted only on change), removed engines."""

import json
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra.api.command import FileUploadCommand, FunctionCommand, QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.accounts import Accounts
from thorfleet.core.failure import failure
from thorfleet.core.fleet import RestartDrain
from thorfleet.core.install import Commands, install_commands, is_current
from thorfleet.core.paths import ENGINE_STATE_DIR, unit_name
from thorfleet.core.render import RenderedFile
from thorfleet.core.secret_file import SecretFile
from thorfleet.roles.engines.commands import owned_files, state_record
from thorfleet.roles.engines.facts import EngineStatus, ImageHelp, InstalledEngines, ProgramHelp
from thorfleet.roles.engines.flags import command_line_problems


@operation()
def service_user(user: str, groups: list[str]) -> Commands:
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


def flag_problems(name: str, flags: dict[str, Any]) -> str | None:
    """Why the installed engine would not accept its command line (None when it would): the program's
    --help (native), or the --help of the image's entry command, run in the image (containers)."""
    if flags.get("image"):
        found = host.get_fact(ImageHelp, image=flags["image"], entry=flags["entry"])
        absent = f"engine {name}: image {flags['image']} is not on the unit (the engines role pulls or loads it first)"
    else:
        found = host.get_fact(ProgramHelp, binary=flags["argv"][0])
        absent = f"engine {name}: {flags['argv'][0]} is not installed (the builds role installs it)"
    if found is None:
        return absent
    engine, command = f"{flags['kind']} ({found['version']})", flags.get("entry") or flags["argv"][:1]
    # The command line, and for a router each model's section, as the flags its instance starts with.
    lines = {"": flags["argv"], **{f"model {served}: ": argv for served, argv in flags.get("presets", {}).items()}}
    problems = [who + problem for who, argv in lines.items()
                for problem in command_line_problems(flags["kind"], found["help"], argv, command)]
    if problems:
        return f"engine {name}: {engine} rejects its command line, so its unit was left as it was: {'; '.join(problems)}"
    host.log(f"engine {name}: {engine} accepts its {sum(len(argv) - len(command) for argv in lines.values())} arguments")
    return None


RESTART_SCRIPT = (Path(__file__).parent / "restart.sh").read_text()


def restart_command(unit: str, why: str, health_url: str, timeout: int) -> StringCommand:
    """Restart the unit and wait until it answers `health_url` (restart.sh): failed at once when it
    exits, after `timeout` seconds otherwise, with the engine's own last lines in one message."""
    return StringCommand("sh", "-c", QuoteString(RESTART_SCRIPT), "restart", QuoteString(unit), QuoteString(health_url),
                         str(int(timeout)), QuoteString(why))


def reload_command(url: str, key_file: str | None) -> StringCommand:
    """Ask a running llama-router to read its preset again (`GET /models?reload=1`): it unloads only the
    models whose section changed, and adds or removes the others; the key is read on the unit."""
    header = 'printf "Authorization: Bearer %s" "$(cat "$2")" | ' if key_file else ""
    script = header + 'curl -fsS -o /dev/null ' + ('-H @- ' if key_file else "") + '"$1"'
    return StringCommand("sh", "-c", QuoteString(script), "reload", QuoteString(url), *([QuoteString(key_file)] if key_file else []))


@operation()
def engine_serving(engine_name: str, files: list[RenderedFile], fingerprint: dict[str, Any], health_url: str, timeout: int,
                   secret: SecretFile | None = None, flags: dict[str, Any] | None = None, drain: RestartDrain | None = None,
                   reload_url: str | None = None) -> Commands:
    """One engine as the config says, confirmed with one fact when nothing changed. It is (re)started
    only when its fingerprint (unit, environment, key, build or image, model) differs from what it
    last started with, or it is not running; then, before anything of it changes, its command line
    is checked against the installed engine (`flags`: kind, argv, and image and entry for
    containers), its key and files are installed, and it must answer `health_url` before the new
    fingerprint is recorded. Behind a gateway (`drain`), the engine is drained there before the
    restart and put back once healthy, so that no request the gateway sent it is dropped. Files
    changed on the unit by hand are put back without a restart. A llama-router (`reload_url`) whose
    only change is its preset is not restarted: it reloads the preset, so that only the models whose
    section changed are unloaded (and load again when next asked for)."""
    name, unit = engine_name, unit_name(engine_name)
    paths = [f.dest for f in files] + ([secret.path] if secret else [])
    status = host.get_fact(EngineStatus, engine_name=name, unit=unit, paths=paths)
    stale = [f for f in files if not is_current(f, status["files"].get(f.dest))]
    key_stale = secret is not None and not secret.is_current(status["files"].get(secret.path))
    restart = not (status["active"] and status["enabled"] and status["running"] == fingerprint)
    changed = [k for k in fingerprint if (status["running"] or {}).get(k) != fingerprint[k]]
    reload = bool(restart and reload_url and status["active"] and status["enabled"] and changed == ["preset"])
    if not (stale or key_stale or restart):
        host.noop(f"engine {name} runs its current configuration")
        return
    if restart and flags:
        problem = flag_problems(name, flags)
        if problem:
            yield failure(problem)
            return
    if secret is not None and key_stale:
        yield from secret.commands()
    if stale:
        yield from install_commands(stale, [path for path, file in status["files"].items() if file])
        yield "systemctl daemon-reload"
    if not restart:
        return
    if reload and reload_url:
        yield reload_command(reload_url, secret.path if secret else None)
    else:
        if not status["enabled"]:
            yield f"systemctl enable {shlex.quote(unit + '.service')}"
        why = f"thorfleet: (re)starting {unit}: {', '.join(changed) or 'not running'} changed"
        if drain:
            yield FunctionCommand(drain.drain, (), {})
        yield restart_command(unit, why, health_url, timeout)
        if drain:
            yield FunctionCommand(drain.ready, (), {})
    record = state_record(name)
    yield f"mkdir -p {ENGINE_STATE_DIR}"
    yield FileUploadCommand(StringIO(json.dumps(fingerprint, sort_keys=True)), record,
                            remote_temp_filename=host.get_temp_filename(record))


@operation()
def engines_removed(keep: list[str]) -> Commands:
    """Engines no longer in the config: stopped, disabled, and their unit and files removed."""
    gone = [n for n in host.get_fact(InstalledEngines) if n not in keep]
    if not gone:
        host.noop("no removed engines to clean up")
        return
    for name in gone:
        unit = unit_name(name)
        yield f"systemctl disable --now {shlex.quote(unit + '.service')} 2>/dev/null; rm -f {shlex.join(owned_files(name))}"
    yield "systemctl daemon-reload"
