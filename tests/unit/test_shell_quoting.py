"""Every value interpolated into a shell command that an operation or a fact runs is quoted.

The test reads the source of every role's operations and facts and of `thorfleet.core`: inside
what is yielded as a command (or returned by a fact's `command`, or by a helper that builds a
command fragment), each `{...}` of an f-string must be `shlex.quote(...)`/`shlex.join(...)`, an
UPPERCASE constant of `thorfleet.core.paths` and friends, or a fragment reviewed below with the
reason it is safe. Messages given to `failure(...)` and words given to `QuoteString(...)` are
not shell text and are skipped.
"""

import ast
from pathlib import Path

import thorfleet

PACKAGE = Path(thorfleet.__file__).parent
SOURCES = sorted(PACKAGE.glob("roles/*/operations.py")) + sorted(PACKAGE.glob("roles/*/facts.py")) + sorted(PACKAGE.glob("core/*.py"))
QUOTING = {"shlex.quote", "shlex.join", "QuoteString"}
NOT_SHELL = {"failure", "QuoteString"}

# (file, expression) → why it is safe: each is a fragment quoted where it was built, or a number.
REVIEWED = {
    ("core/apt.py", "install"): "apt-get command built here from shlex.join(missing)",
    ("core/apt.py", "names"): "built here with shlex.quote per package",
    ("core/apt.py", "offered"): "shell function body built here from the quoted names",
    ("roles/base/operations.py", "lines"): "built here with shlex.quote per key",
    ("roles/base/operations.py", "version"): "a pip requirement; pip_install_command quotes each requirement",
    ("roles/builds/facts.py", "d"): "shlex.quote(engine_dir) just above",
    ("roles/builds/facts.py", "nvcc"): "shlex.quote(...) just above",
    ("roles/builds/operations.py", "new"): "shlex.quote(...) just above",
    ("roles/builds/operations.py", "current"): "shlex.quote(...) just above",
    ("roles/docker/operations.py", "backup"): "a constant path with a $(date) suffix, meant for the shell",
    ("roles/docker/operations.py", "restart_or_restore()"): "a command fragment built in this module",
    ("roles/docker/operations.py", "restart_or_restore(restore=f'rm -f {DAEMON_JSON}')"): "a command fragment built in this module",
    ("roles/docker/operations.py", "restore"): "a command fragment given by this module's callers",
    ("roles/docker/operations.py", "runtime_check(expected)"): "a command fragment built in this module",
    ("roles/docker/operations.py", "DAEMON_JSON.rsplit('/', 1)[0]"): "a constant path",
    ("roles/engines/facts.py", "b"): "shlex.quote(binary) just above",
    ("roles/engines/facts.py", "i"): "shlex.quote(image) just above",
    ("roles/engines/facts.py", "run"): "a docker run prefix built just above from the quoted image",
    ("roles/models/operations.py", "store.root"): "a folder of the fan-out's Delivery, given to uftpd as a QuoteString",
    ("roles/models/operations.py", "assignments"): "VAR=value words built here with shlex.quote per value",
    ("roles/models/operations.py", "' '.join((shlex.quote(d) for d in stale))"): "each path quoted",
}


def _is_quoted(expression: ast.expr) -> bool:
    if isinstance(expression, ast.Call):
        return ast.unparse(expression.func) in QUOTING
    name = expression.id if isinstance(expression, ast.Name) else getattr(expression, "attr", "")
    return bool(name) and name.isupper()


def _shell_texts(tree: ast.Module) -> list[ast.expr]:
    """What a module runs as shell: yielded values, fact commands and the helpers they call."""
    texts: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Yield, ast.YieldFrom)) and node.value is not None:
            texts.append(node.value)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "command" for t in node.targets):
            texts.append(node.value)
        elif isinstance(node, ast.FunctionDef) and "command" in node.name:
            texts += [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
    helpers = {c.func.id for t in texts for c in _shell_nodes(t) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in helpers:
            texts += [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
    return texts


def _shell_nodes(text: ast.expr) -> list[ast.AST]:
    """The nodes of a command, less the arguments of failure(...) and QuoteString(...)."""
    skipped = {id(a) for c in ast.walk(text) if isinstance(c, ast.Call) and ast.unparse(c.func) in NOT_SHELL
               for arg in c.args for a in ast.walk(arg)}
    return [node for node in ast.walk(text) if id(node) not in skipped]


def _interpolations(text: ast.expr):
    for node in _shell_nodes(text):
        if isinstance(node, ast.JoinedStr):
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    yield node.lineno, value.value


def unquoted() -> dict[tuple[str, str], int]:
    found = {}
    for source in SOURCES:
        relative = str(source.relative_to(PACKAGE))
        for text in _shell_texts(ast.parse(source.read_text())):
            for line, expression in _interpolations(text):
                if not _is_quoted(expression):
                    found.setdefault((relative, ast.unparse(expression)), line)
    return found


def test_no_command_interpolates_an_unquoted_value():
    surprises = [f"thorfleet/{file}:{line}: {{{expr}}}" for (file, expr), line in unquoted().items() if (file, expr) not in REVIEWED]
    assert not surprises, "quote these with shlex.quote/QuoteString (or review them here):\n" + "\n".join(surprises)


def test_every_reviewed_fragment_still_exists():
    assert not set(REVIEWED) - set(unquoted()), "stale entries in REVIEWED"


def test_the_scan_finds_an_unquoted_user_value():
    tree = ast.parse('def op(user):\n    yield f"usermod -aG docker {user}"\n    yield failure(f"no {user}")\n')
    found = [ast.unparse(e) for text in _shell_texts(tree) for _, e in _interpolations(text) if not _is_quoted(e)]
    assert found == ["user"]
