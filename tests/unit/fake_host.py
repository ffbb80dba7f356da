"""Operation tests in pyinfra's own style: facts in, commands out, without a host."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

from pyinfra.api.command import FileUploadCommand, FunctionCommand

from pyinfra.context import ctx_host, ctx_state

from thorfleet.core.failure import log_failure


class FakeHost:
    name = "thor-01"

    def __init__(self, facts: dict):
        self.facts = facts  # fact class name -> value
        self.noops: list[str] = []
        self.logged: list[str] = []

    def get_fact(self, fact, *args, **kwargs):
        """A fact's value; a callable value answers per argument (File facts by path)."""
        value = self.facts[fact.__name__]
        return value(*args, **kwargs) if callable(value) else value

    def noop(self, description: str) -> None:
        self.noops.append(description)

    def log_styled(self, message: str, **style) -> None:
        self.logged.append(message)

    def log(self, message: str, log_func=None) -> None:
        self.logged.append(message)

    def get_temp_filename(self, hash_key=None, *args, **kwargs) -> str:
        return "/tmp/pyinfra-upload"


def run_operation(op, facts: dict, *args, pyinfra_state=None, **kwargs):
    """The commands an operation yields for these facts, uploads as (dest, content), and its no-op messages
    (`pyinfra_state`: the deploy's state, for operations that keep something there)."""
    host, commands = _ran(op, facts, *args, pyinfra_state=pyinfra_state, **kwargs)
    return commands, host.noops


def said_before_its_first_command(op, facts: dict, *args, **kwargs) -> list[str]:
    """What an operation logs before its first command: what pyinfra's change detection (and so
    `thorfleet plan`) sees of it."""
    host = FakeHost(facts)
    with ctx_host.use(host), ctx_state.use(fake_state()):
        next(iter(op._inner(*args, **kwargs)), None)
    return host.logged


def fake_state() -> SimpleNamespace:
    """pyinfra's state as operations see it: its config, and its callback handlers (the closing tables')."""
    handlers: list = []
    return SimpleNamespace(config=SimpleNamespace(DIFF=False), handlers=handlers, add_callback_handler=handlers.append)


def _ran(op, facts: dict, *args, pyinfra_state=None, **kwargs):
    host = FakeHost(facts)
    with ctx_host.use(host), ctx_state.use(pyinfra_state or fake_state()):
        yielded = list(op._inner(*args, **kwargs))
    return host, [_shown(c) for c in yielded]


def _shown(command):
    if isinstance(command, FileUploadCommand):
        return (command.dest, command.src.getvalue() if hasattr(command.src, "getvalue") else command.src)
    if isinstance(command, FunctionCommand):
        if command.function is log_failure:
            return ("fail", command.args[0])
        return repr(command)
    return str(command)


def failure_of(commands) -> str:
    """The message of an operation that yielded only a failure (and so changed nothing)."""
    assert len(commands) == 1 and commands[0][0] == "fail", commands
    return commands[0][1]


class LocalUnit:
    """A unit whose shell is this machine's, for the controller-side functions of FunctionCommands
    (core/fanout.py's take_or_upload): their commands really run, uploads are local copies."""

    name = "thor-01"

    def __init__(self):
        self.uploaded: list[tuple[str, str]] = []

    def run_shell_command(self, command, _sudo=False):
        done = subprocess.run(["bash", "-c", command.get_raw_value()], capture_output=True)
        return done.returncode == 0, None

    def put_file(self, local, remote, remote_temp_filename=None, _sudo=False):
        self.uploaded.append((local, remote))
        Path(remote).write_bytes(Path(local).read_bytes())
        return True

    def get_temp_filename(self, key):
        return "/tmp/pyinfra-upload"

    def log(self, message):
        pass

    def log_styled(self, message, **style):
        pass
