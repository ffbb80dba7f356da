"""Git mirrors of llama.cpp and whisper.cpp at the pinned versions, built from PyPI sdists.

The lab units cannot reach the engines' upstream repositories; the controller serves these
mirrors with `git daemon` instead. llama-cpp-python's sdist carries llama.cpp's own (shallow)
git history, so the mirror has upstream's real commit; pywhispercpp's carries only the tree,
which is committed here and tagged with the upstream tag it was released from.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from thorfleet.lab import downloads, layout
from thorfleet.lab.system import LabError, run, succeeds
from thorfleet.roles.builds.config import LlamaCppBuild, WhisperCppBuild

GIT = layout.LAB / "git"
LLAMA_SDIST = ("llama-cpp-python", "llama_cpp_python-0.3.36.tar.gz",
               "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e")
WHISPER_SDIST = ("pywhispercpp", "pywhispercpp-1.5.1.tar.gz",
                 "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5")
# The lab mirror's tag one commit above the pinned whisper.cpp release.
WHISPER_NEXT_TAG = "lab-next"
# A fixed identity and date, so that the whisper.cpp mirror's commit is the same on every controller.
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "thorfleet lab", "GIT_AUTHOR_EMAIL": "lab@thorfleet.invalid",
    "GIT_COMMITTER_NAME": "thorfleet lab", "GIT_COMMITTER_EMAIL": "lab@thorfleet.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def _extract(archive: Path, member_prefix: str, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(member_prefix)]
        tar.extractall(into, members=members, filter="data")
    return into / member_prefix


def _mirror(name: str, refs: list[str], sdist: tuple, make_repo) -> Path:
    """A bare mirror served by git daemon, made once from an sdist; remade when it lacks one of `refs`.

    `make_repo(archive, scratch)` returns a repository (git dir or work tree) holding `refs`."""
    bare = GIT / f"{name}.git"
    has_refs = all(succeeds("git", f"--git-dir={bare}", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
                   for ref in refs)
    if (bare / "git-daemon-export-ok").exists() and has_refs:
        return bare
    archive = downloads.sdist(*sdist)
    GIT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=GIT) as scratch:
        repo = make_repo(archive, Path(scratch))
        shutil.rmtree(bare, ignore_errors=True)
        run("git", "clone", "--quiet", "--bare", f"file://{repo}", str(bare))
    run("git", "-C", str(bare), "config", "uploadpack.allowAnySHA1InWant", "true")  # fetch by commit id
    (bare / "git-daemon-export-ok").touch()
    return bare


def llama_cpp_mirror() -> Path:
    pinned = LlamaCppBuild().ref

    def make_repo(archive: Path, scratch: Path) -> Path:
        gitdir = _extract(archive, "llama_cpp_python-0.3.36/.git/modules/vendor/llama.cpp", scratch)
        run("git", "config", "--file", str(gitdir / "config"), "--unset", "core.worktree", check=False)
        head = run("git", f"--git-dir={gitdir}", "rev-parse", "HEAD").stdout.strip()
        if head != pinned:
            raise LabError(f"{LLAMA_SDIST[1]} carries llama.cpp {head}, not the pinned {pinned}")
        return gitdir

    return _mirror("llama.cpp", [pinned], LLAMA_SDIST, make_repo)


def whisper_cpp_mirror() -> Path:
    tag = WhisperCppBuild().ref

    def make_repo(archive: Path, scratch: Path) -> Path:
        tree = _extract(archive, "pywhispercpp-1.5.1/whisper.cpp", scratch)
        env = {**os.environ, **COMMIT_ENV}
        for args in (["init", "--quiet", "--initial-branch=master"], ["add", "--all", "--force"],
                     ["commit", "--quiet", "--no-gpg-sign", "-m", f"whisper.cpp {tag}, as carried by {WHISPER_SDIST[1]}"],
                     ["tag", tag]):
            run("git", "-C", str(tree), *args, env=env)
        # A later commit, so that a test can move the pin: it changes no code, only a note.
        (tree / "THORFLEET-LAB.md").write_text(f"A lab commit above {tag}, for tests that bump builds.whisper_cpp.ref.\n")
        for args in (["add", "THORFLEET-LAB.md"],
                     ["commit", "--quiet", "--no-gpg-sign", "-m", "lab: a commit to move the pin to"],
                     ["tag", WHISPER_NEXT_TAG]):
            run("git", "-C", str(tree), *args, env=env)
        return tree

    return _mirror("whisper.cpp", [tag, WHISPER_NEXT_TAG], WHISPER_SDIST, make_repo)
