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

from roles.builds.config import LlamaCppBuild, WhisperCppBuild
from thorfleet.lab import downloads, layout
from thorfleet.lab.system import LabError, run

GIT = layout.LAB / "git"
LLAMA_SDIST = ("llama-cpp-python", "llama_cpp_python-0.3.36.tar.gz",
               "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e")
WHISPER_SDIST = ("pywhispercpp", "pywhispercpp-1.5.1.tar.gz",
                 "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5")
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


def _serve(bare: Path) -> None:
    run("git", "-C", str(bare), "config", "uploadpack.allowAnySHA1InWant", "true")  # fetch by commit id
    (bare / "git-daemon-export-ok").touch()


def llama_cpp_mirror() -> Path:
    bare = GIT / "llama.cpp.git"
    pinned = LlamaCppBuild().ref
    if (bare / "git-daemon-export-ok").exists():
        return bare
    archive = downloads.sdist(*LLAMA_SDIST)
    with tempfile.TemporaryDirectory(dir=layout.LAB) as scratch:
        gitdir = _extract(archive, "llama_cpp_python-0.3.36/.git/modules/vendor/llama.cpp", Path(scratch))
        run("git", "config", "--file", str(gitdir / "config"), "--unset", "core.worktree", check=False)
        head = run("git", f"--git-dir={gitdir}", "rev-parse", "HEAD").stdout.strip()
        if head != pinned:
            raise LabError(f"{LLAMA_SDIST[1]} carries llama.cpp {head}, not the pinned {pinned}")
        shutil.rmtree(bare, ignore_errors=True)
        run("git", "clone", "--quiet", "--bare", f"file://{gitdir}", str(bare))
    _serve(bare)
    return bare


def whisper_cpp_mirror() -> Path:
    bare = GIT / "whisper.cpp.git"
    tag = WhisperCppBuild().ref
    if (bare / "git-daemon-export-ok").exists():
        return bare
    archive = downloads.sdist(*WHISPER_SDIST)
    with tempfile.TemporaryDirectory(dir=layout.LAB) as scratch:
        tree = _extract(archive, "pywhispercpp-1.5.1/whisper.cpp", Path(scratch))
        env = {**os.environ, **COMMIT_ENV}
        for args in (["init", "--quiet", "--initial-branch=master"], ["add", "--all", "--force"],
                     ["commit", "--quiet", "--no-gpg-sign", "-m", f"whisper.cpp {tag}, as carried by {WHISPER_SDIST[1]}"],
                     ["tag", tag]):
            run("git", "-C", str(tree), *args, env=env)
        shutil.rmtree(bare, ignore_errors=True)
        run("git", "clone", "--quiet", "--bare", str(tree), str(bare))
    _serve(bare)
    return bare
