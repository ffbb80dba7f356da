"""What a unit holds of the fleet's artifacts (model files with where each came from, engine builds,
container images), as one script run on the unit: `thorfleet hosts --artifacts` and the deploy's
closing table read it."""

# Run on the unit with the model store, the builds root and any model folders outside the store; reads
# stamps and links only, hashes nothing.
SCRIPT = r"""
import glob, json, os, subprocess, sys
models, builds, folders = sys.argv[1], sys.argv[2], sys.argv[3:]  # "-": no models root
found = {"models": [], "builds": [], "images": []}
listed = glob.glob(os.path.join(models, "**", ".thorfleet-verified.json"), recursive=True) if models != "-" else []
listed += [os.path.join(folder, ".thorfleet-verified.json") for folder in folders]
for stamps in sorted({os.path.normpath(path) for path in listed}):
    try:
        stamped = json.load(open(stamps))
    except (OSError, ValueError):
        continue
    for path, stamp in sorted(stamped.items()):
        found["models"].append({"name": os.path.join(os.path.dirname(stamps), path), "bytes": stamp.get("size"),
                                "id": (stamp.get("sha256") or "")[:12], "from": stamp.get("from", "-")})
for engine in sorted(os.listdir(builds)) if os.path.isdir(builds) else []:
    current = os.path.join(builds, engine, "current")
    if os.path.islink(current):
        build = os.path.basename(os.readlink(current))
        tree = os.path.join(builds, engine, "builds", build)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(tree) for f in names)
        logs = os.path.join(builds, engine, "logs", build)
        how = "fan-out" if os.path.exists(logs + ".fanout") else "copied" if os.path.exists(logs + ".install.sh") else None
        found["builds"].append({"name": engine, "bytes": size, "id": build,
                                "from": f"the fleet's build ({how})" if how else "compiled here"})
try:
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{json .}}"], capture_output=True, text=True, timeout=30)
    for line in listed.stdout.splitlines():
        image = json.loads(line)
        found["images"].append({"name": image["Repository"] + ":" + image["Tag"], "size": image["Size"], "id": image["ID"][:19]})
except (OSError, subprocess.SubprocessError, ValueError):
    pass
print(json.dumps(found))
"""


def listing(models_root: str | None, builds_root: str | None, folders: tuple[str, ...] = ()) -> list[str]:
    """The command that prints what a unit holds (as JSON: models, builds, images), run as root: the
    models under `models_root` and in `folders`, the builds under `builds_root`."""
    return ["python3", "-c", SCRIPT, models_root or "-", builds_root or "-", *folders]
