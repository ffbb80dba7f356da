. .device/common.sh
echo "== 4. whisper.cpp with CUDA for arch 90, by the builds role"
s=$(date +%s); deploy inventory/whisper.py deploy.py; rc=$?; e=$(date +%s)
echo "== whisper.cpp: exit $rc after $((e - s)) s"
cp /tmp/thorfleet-builds/whisper.cpp/logs/*.log "$OUT/whisper-build.log" 2>/dev/null
b=/tmp/thorfleet-builds/whisper.cpp/current/bin
ldd "$b/whisper-server" | grep -i -E "cuda|cublas"
"$b/whisper-cli" --help 2>&1 | head -3
echo "== 5. the verify check's judgement on this machine (fact + cuda_problem, as thorfleet verify runs it)"
cd .device/fleet && env -i PATH="$PROOF_PATH" PYTHONPATH="/tmp/site:$REPO" "$PY" - <<'PYEOF'
import subprocess
from thorfleet.fleet import load_fleet
from pathlib import Path
from thorfleet.roles.builds.facts import CudaToolkit
from thorfleet.roles.builds.fleet import needed_builds
from thorfleet.roles.builds.operations import cuda_problem
for inventory in ("inventory/llama.py", "inventory/whisper.py"):
    fleet = load_fleet(Path(inventory))
    config = fleet.hosts["@local"].config
    for key in needed_builds(fleet.hosts["@local"], fleet):
        build = getattr(config.builds, key)
        out = subprocess.run(["sh", "-c", CudaToolkit().command(config.builds.cuda_home)], capture_output=True, text=True).stdout
        toolkit = CudaToolkit().process(out.splitlines())
        print(key, toolkit["version"], "archs:", " ".join(a[8:] for a in toolkit["architectures"]), "->",
              cuda_problem(key, build, config.builds.cuda_home, toolkit) or "ok")
        wrong = build.model_copy(update={"cuda_architectures": "90;130"})
        print("  with 90;130:", cuda_problem(key, wrong, config.builds.cuda_home, toolkit))
PYEOF
