"""Facts of the models role: the cheap state of a model's files, and what the hub CLIs' venv holds."""

import json
import shlex

from pyinfra.api import FactBase

# Run on the unit: which files carry a still-valid verification stamp (same size and mtime as when
# fetch_model.py hashed them), how many bytes each has so far (partial files included), and the
# free space where the model goes. No file is read: this runs on every deploy.
_STATE = r"""
import json, os, sys
dest, files = sys.argv[1], json.loads(sys.argv[2])
try:
    stamps = json.load(open(os.path.join(dest, ".thorfleet-verified.json")))
except Exception:
    stamps = {}
out = {}
for f in files:
    path, stamp = os.path.join(dest, f["path"]), stamps.get(f["path"])
    st = os.stat(path) if os.path.isfile(path) else None
    verified = bool(st and stamp and (stamp["size"], stamp["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
                    and f["sha256"] in (None, stamp["sha256"]))
    partial = max([os.path.getsize(p) for p in (path + ".incomplete", path + ".part") if os.path.isfile(p)] or [0])
    out[f["path"]] = {"verified": verified, "bytes": st.st_size if st else partial}
d = dest
while not os.path.isdir(d):
    d = os.path.dirname(d)
v = os.statvfs(d)
print(json.dumps({"files": out, "free": v.f_bavail * v.f_frsize}))
"""


class ModelState(FactBase):
    """`{"files": {path: {"verified": bool, "bytes": int}}, "free": bytes}` for a model's folder."""

    def command(self, dest: str, files: list[dict]) -> str:
        return f"python3 -c {shlex.quote(_STATE)} {shlex.quote(dest)} {shlex.quote(json.dumps(files))}"

    def process(self, output):
        return json.loads("\n".join(output))


class VenvPackages(FactBase):
    """`{name: version}` of what a virtual environment has installed (empty when it does not exist)."""

    def command(self, venv: str) -> str:
        return f"{shlex.quote(venv)}/bin/python -m pip list --format=json --disable-pip-version-check 2>/dev/null || echo '[]'"

    def process(self, output):
        return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads("\n".join(output) or "[]")}


class ManagedModelFolders(FactBase):
    """Folders under the model store that thorfleet filled (they hold its verification stamps)."""

    def command(self, root: str) -> str:
        return f"find {shlex.quote(root)} -name .thorfleet-verified.json -printf '%h\\n' 2>/dev/null || true"

    def process(self, output):
        return sorted(line.strip() for line in output if line.strip())
