"""On the GPU machine: whisper-server built with CUDA, started with the command line thorfleet renders,
and `thorfleet bench`'s whisper client (concurrency 1 and 4) against it.

    python3 benchmarks/serving/device_whisper.py MODEL_BIN OUT_DIR    # from .device/fleet (run.sh)
"""

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from thorfleet.bench import whisper
from thorfleet.fleet import load_fleet
from thorfleet.roles.engines.commands import engine_argv

AUDIO_S = 30.0


class Progress:
    """What whisper.bench asks of a progress bar, printed as lines."""

    def add_task(self, label, total):
        print(f"== {label}: {total} requests", flush=True)

    def advance(self, task):
        pass


def main(model_bin: str, out: str) -> None:
    out_dir = Path(out)
    config = load_fleet(Path("inventory/asr.py")).hosts["@local"].config
    target = Path(config.model_store.load_path(config.models["whisper-tiny-random"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_bin, target)
    argv = engine_argv(config, "whisper", config.engines["whisper"])[0]
    print("== command line (as the unit renders it):", " ".join(argv), flush=True)
    log = open(out_dir / "whisper-server.log", "w")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:8080"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(base + "/health", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(1)
        records = whisper.bench(base, AUDIO_S, Progress(), "whisper")
        for record in records:
            print(json.dumps(record), flush=True)
        (out_dir / "whisper.json").write_text(json.dumps({"command_line": " ".join(argv), "records": records}, indent=2))
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    print("== CUDA in the server log:", *[line.strip() for line in open(out_dir / "whisper-server.log")
                                         if "CUDA" in line or "cuda" in line][:6], sep="\n   ")


if __name__ == "__main__":
    main(*sys.argv[1:])
