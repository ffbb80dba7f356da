"""`thorfleet hosts INVENTORY --artifacts`: what each unit holds of the fleet's artifacts (model files,
engine builds, container images) and where each came from, asked of all units over SSH at once."""

import json
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.table import Table

from thorfleet.core.fleet import FleetHost
from thorfleet.core.ssh import Unreachable, run, ssh_client

# Run on the unit with the model store and the builds root; reads stamps and links only, hashes nothing.
SCRIPT = r"""
import glob, json, os, subprocess, sys
models, builds = sys.argv[1], sys.argv[2]
found = {"models": [], "builds": [], "images": []}
for stamps in sorted(glob.glob(os.path.join(models, "**", ".thorfleet-verified.json"), recursive=True)):
    try:
        listed = json.load(open(stamps))
    except (OSError, ValueError):
        continue
    for path, stamp in sorted(listed.items()):
        found["models"].append({"name": os.path.join(os.path.dirname(stamps), path), "bytes": stamp.get("size"),
                                "id": (stamp.get("sha256") or "")[:12], "from": stamp.get("from", "-")})
for engine in sorted(os.listdir(builds)) if os.path.isdir(builds) else []:
    current = os.path.join(builds, engine, "current")
    if os.path.islink(current):
        build = os.path.basename(os.readlink(current))
        tree = os.path.join(builds, engine, "builds", build)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(tree) for f in names)
        copied = os.path.exists(os.path.join(builds, engine, "logs", build + ".install.sh"))
        found["builds"].append({"name": engine, "bytes": size, "id": build,
                                "from": "the fleet's build (copied)" if copied else "compiled here"})
try:
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{json .}}"], capture_output=True, text=True, timeout=30)
    for line in listed.stdout.splitlines():
        image = json.loads(line)
        found["images"].append({"name": image["Repository"] + ":" + image["Tag"], "size": image["Size"], "id": image["ID"][:19]})
except (OSError, subprocess.SubprocessError, ValueError):
    pass
print(json.dumps(found))
"""


def held(host: FleetHost) -> dict[str, Any]:
    """What the unit holds, or {"error": why} when it cannot be asked."""
    command = shlex.join(["sudo", "-n", "python3", "-c", SCRIPT, host.config.model_store.root, host.config.builds.root])
    try:
        client = ssh_client(host)
    except Unreachable as err:
        return {"error": str(err)}
    try:
        output = run(client, command)
    finally:
        client.close()
    try:
        found: dict[str, Any] = json.loads(output)
    except ValueError:
        return {"error": f"{host.name}: listing its artifacts failed (python3 and sudo without a password are needed)"}
    return found


def artifacts_table(title: str, hosts: list[FleetHost]) -> tuple[Table, list[str]]:
    """One row per artifact per unit; and the units that could not be asked, each with why."""
    with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
        answers = dict(zip((h.name for h in hosts), pool.map(held, hosts)))
    table = Table(title=title)
    for column in ("host", "kind", "artifact", "size", "sha256 / id", "from"):
        table.add_column(column, overflow="fold")
    failed = []
    for name, found in answers.items():
        if "error" in found:
            failed.append(found["error"])
            continue
        for kind in ("models", "builds", "images"):
            for item in found[kind]:
                size = item.get("size") or (f"{item['bytes'] / 1e6:.1f} MB" if item.get("bytes") is not None else "-")
                table.add_row(name, kind[:-1], item["name"], size, item["id"], item.get("from", "-"))
        table.add_section()
    return table, failed
