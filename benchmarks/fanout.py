"""Placing one model-sized file on N lab units, side by side in one run (issue 29): three transports
on their own, a star from the controller (HTTP), uftp (authenticated, encrypted multicast) and aria2
(BitTorrent: the controller seeds, the units trade pieces); and two whole deploys of the models role,
`model_store.fetch: controller` (the star) and `fetch: fleet` (uftp), each a `pyinfra` run timed from
its start to its end, connections, facts and sha256 checks on the units included.

    sudo .venv/bin/thorfleet lab up --units 8 --link 200mbit
    sudo .venv/bin/python benchmarks/fanout.py [--size-mb 256] [--counts 1,2,4,8] [--rounds 1]

Each placement is timed from its start until every unit holds the whole file, and then checked
(sha256 on every unit). "Uplink" is what the controller sent into the lab's bridge meanwhile (its
link's counter): the copies that crossed the controller's one link. Results: docs/distribution.md.
"""

import argparse
import hashlib
import os
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from thorfleet.commands.lab import ssh_command
from thorfleet.lab import layout

CONTROLLER = layout.CONTROLLER_ADDRESS
HTTP_PORT, TRACKER_PORT, PEER_PORT, UFTP_PORT = 7090, 6969, 6881, 1044
DEST = "/var/tmp/fanout"
NAME = "model.bin"


def on_units(units: list[layout.UnitLayout], command: Callable[[layout.UnitLayout], str], timeout: float = 900) -> list[str]:
    """A shell command on each unit at once (as the lab's login user); their outputs. Fails on any error."""
    running = [subprocess.Popen(ssh_command(unit, (command(unit),)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for unit in units]
    outputs = []
    for unit, process in zip(units, running):
        out, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise SystemExit(f"{unit.name}: exit {process.returncode}: {out.strip()[-600:]}")
        outputs.append(out)
    return outputs


def sent_by_controller() -> int:
    return int(Path(f"/sys/class/net/{layout.BRIDGE}/statistics/tx_bytes").read_text())


def fresh(units: list[layout.UnitLayout]) -> None:
    """An empty folder on each unit, and no transfer of an earlier run still going."""
    on_units(units, lambda unit: f"pkill -x aria2c; sudo pkill -x uftpd; sudo rm -rf {DEST} && mkdir -p {DEST}")


def star(units: list[layout.UnitLayout], source: Path, rate_kbit: int) -> None:
    """Every unit pulls the file from an HTTP server on the controller (curl, as `fetch: controller`)."""
    server = subprocess.Popen(["python3", "-m", "http.server", str(HTTP_PORT), "--bind", CONTROLLER, "--directory",
                               str(source.parent)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        on_units(units, lambda unit: f"curl -fsS -o {DEST}/{NAME} http://{CONTROLLER}:{HTTP_PORT}/{source.name}")
    finally:
        server.terminate()
        server.wait()


def uftp(units: list[layout.UnitLayout], source: Path, rate_kbit: int) -> None:
    """One multicast session from the controller to every unit's uftpd (encrypted and signed with
    AES-256-GCM, keys exchanged with ECDH; each unit accepts only the controller's session), sent at
    95 % of the link's rate; lost blocks are sent again on the units' NAKs."""
    on_units(units, lambda unit: f"mkdir -p {DEST}/.partial && uftpd -D {DEST} -T {DEST}/.partial -I {unit.address} "
                                 f"-p {UFTP_PORT} -K ec:prime256v1 -P {DEST}/uftpd.pid -L {DEST}/uftpd.log -x 1")
    try:
        subprocess.run(["uftp", "-I", layout.BRIDGE, "-p", str(UFTP_PORT), "-R", str(int(rate_kbit * 0.95)),
                        "-Y", "aes256-gcm", "-h", "sha256", "-e", "ecdh_ecdsa", "-H", ",".join(u.address for u in units),
                        "-D", NAME, "-x", "0", "-q", str(source)], check=True, timeout=900, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"uftp failed: {err.stderr[-800:]}") from None
    finally:
        on_units(units, lambda unit: f"kill $(cat {DEST}/uftpd.pid) 2>/dev/null; true")


def aria2(units: list[layout.UnitLayout], source: Path, rate_kbit: int) -> None:
    """BitTorrent: a private torrent of 1 MiB pieces (each piece's SHA-1 in it, so no unit keeps or
    passes on a corrupt piece) announced to opentracker on the controller; the controller seeds with
    aria2c, every unit downloads with aria2c and keeps seeding until all are done."""
    with tempfile.TemporaryDirectory() as scratch:
        torrent = Path(scratch) / f"{NAME}.torrent"
        subprocess.run(["mktorrent", "-p", "-l", "20", "-a", f"http://{CONTROLLER}:{TRACKER_PORT}/announce", "-n", NAME,
                        "-o", str(torrent), str(source)], check=True, capture_output=True)
        common = ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
                  "--seed-ratio=0.0", "--bt-tracker-interval=1", "--bt-max-peers=64", "--console-log-level=warn",
                  "--summary-interval=0", f"--listen-port={PEER_PORT}"]
        # Debian's opentracker tracks only the torrents its whitelist names: this one.
        shown = subprocess.run(["aria2c", "-S", str(torrent)], capture_output=True, text=True, check=True).stdout
        info_hash = next(line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Info Hash:"))
        (Path(scratch) / "whitelist").write_text(info_hash + "\n")  # read in its chroot (-d), as an unprivileged user
        os.chmod(scratch, 0o755)
        os.chmod(Path(scratch) / "whitelist", 0o644)
        tracker = subprocess.Popen(["opentracker", "-i", CONTROLLER, "-p", str(TRACKER_PORT), "-P", str(TRACKER_PORT),
                                    "-d", scratch, "-w", "whitelist"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seeder = subprocess.Popen(["aria2c", *common, f"--interface={CONTROLLER}", "--check-integrity=true",
                                   f"--dir={source.parent}", f"--index-out=1={source.name}", str(torrent)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            spec = torrent.read_bytes().hex()
            on_units(units, lambda unit: f"python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' {spec} "
                                         f"> {DEST}/{NAME}.torrent")
            # Each unit: aria2c in the background, seeding on; this command returns once its file is whole
            # (aria2's hook: the download checked piece by piece and complete, seeding from then on).
            start = " ".join(shlex.quote(a) for a in ["aria2c", *common])
            on_units(units, lambda unit: (
                f"cd {DEST} && printf '#!/bin/sh\\ntouch {DEST}/done\\n' > done.sh && chmod +x done.sh && "
                f"(setsid nohup {start} --on-bt-download-complete={DEST}/done.sh --interface={unit.address} --dir={DEST} "
                f"{NAME}.torrent > aria2.log 2>&1 < /dev/null & echo $! > aria2.pid); pid=$(cat aria2.pid); "
                f"while [ ! -e done ]; do "
                f"kill -0 $pid 2>/dev/null || {{ tail -n 8 aria2.log | cut -c1-300; exit 1; }}; sleep 0.1; done"), timeout=600)
        finally:
            on_units(units, lambda unit: f"kill $(cat {DEST}/aria2.pid) 2>/dev/null; true")
            seeder.terminate()
            tracker.terminate()
            seeder.wait()
            tracker.wait()


def deploy(fetch: str) -> Callable[[list[layout.UnitLayout], Path, int], None]:
    """A whole deploy of the models role onto the units with `model_store.fetch: <fetch>`: the file is a
    model of the lab's ModelScope endpoint, already in the controller's cache (so the hub is not timed)."""
    def place(units: list[layout.UnitLayout], source: Path, rate_kbit: int) -> None:
        project = source.parent / f"project-{fetch}"
        (project / "inventory").mkdir(parents=True, exist_ok=True)
        (project / "group_vars").mkdir(exist_ok=True)
        hosts = ", ".join(f'("{u.name}", unit_data("{u.name}"))' for u in units)
        (project / "inventory/bench.py").write_text(
            "from thorfleet.inventory import attach_config\nfrom thorfleet.lab.inventory import unit_data\n\n"
            f"units = [{hosts}]\n\nattach_config(globals())\n")
        (project / "group_vars/all.yml").write_text(json.dumps({
            "roles": ["models"],
            "model_store": {"fetch": fetch, "serve_address": CONTROLLER, "controller_cache": str(source.parent / "cache"),
                            "modelscope_endpoint": f"http://{CONTROLLER}:{layout.HTTP_PORT}",
                            "fanout_rate_mbit": max(1, int(rate_kbit * 0.95 / 1000))},
            "models": {"bench": {"id": f"thorfleet-lab/{BENCH_REPO}", "include": [NAME], "file": NAME, "dest": DEST}},
            "engines": {"bench": {"kind": "llama-server", "model": "bench", "port": 8100}}}))
        result = subprocess.run([sys.executable, "-m", "pyinfra", "-y", str(project / "inventory/bench.py"), "deploy.py"],
                                cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=1800)
        if result.returncode:
            raise SystemExit(f"the deploy with fetch {fetch} failed:\n{result.stdout[-3000:]}")
    return place


BENCH_REPO = "fanout-bench"  # the benchmark's file, as a model of the lab's ModelScope endpoint
METHODS = {"star (HTTP from the controller)": star, "uftp (multicast)": uftp, "aria2 (BitTorrent)": aria2,
           "deploy: fetch controller (star)": deploy("controller"), "deploy: fetch fleet (uftp)": deploy("fleet")}


def link_rate_kbit() -> int:
    """The lab's link rate (`lab up --link`), from the controller's token bucket."""
    shown = subprocess.run(["tc", "qdisc", "show", "dev", layout.BRIDGE], capture_output=True, text=True).stdout
    words = shown.split()
    if "rate" not in words:
        raise SystemExit("the lab's links are not held to a rate: `thorfleet lab up --units 8 --link 200mbit` first")
    rate = words[words.index("rate") + 1].lower()
    for unit, factor in (("gbit", 1_000_000), ("mbit", 1_000), ("kbit", 1)):
        if rate.endswith(unit):
            return int(float(rate[: -len(unit)]) * factor)
    raise SystemExit(f"cannot read the link rate {rate!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--counts", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--methods", default="star,uftp,aria2,controller,fleet",
                        help="of: star, uftp, aria2 (the transports), controller, fleet (whole deploys)")
    parser.add_argument("--keep", action="store_true", help="leave the last placement and its logs on the units")
    args = parser.parse_args()
    wanted = args.methods.split(",")
    methods = {name: method for name, method in METHODS.items()
               if name.split()[0] in wanted or (name.startswith("deploy") and name.split()[2] in wanted)}
    counts = [int(n) for n in args.counts.split(",")]
    units = [layout.UnitLayout(index) for index in range(1, max(counts) + 1)]
    rate = link_rate_kbit()
    console = Console()
    with tempfile.TemporaryDirectory(dir=layout.CACHE) as scratch:
        source = Path(scratch) / f"{NAME}.source"
        with source.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(os.urandom(1 << 20))
        os.chmod(scratch, 0o755)
        digest = hashlib.file_digest(source.open("rb"), "sha256").hexdigest()
        size = source.stat().st_size
        served = layout.LAB / "models/thorfleet-lab" / BENCH_REPO  # the lab's hub serves it from here
        shutil.rmtree(served, ignore_errors=True)
        served.mkdir(parents=True)
        os.link(source, served / NAME)
        console.print(f"{size / 1e6:.0f} MB of random bytes, links held to {rate / 1000:g} Mbit/s: "
                      f"one copy takes {size * 8 / (rate * 1000):.1f} s at the link's rate")
        if any(name.startswith("deploy") for name in methods):  # the controller's cache filled, untimed
            deploy("controller")(units[:1], source, rate)
        figures: dict[tuple[str, int], list[tuple[float, int]]] = {}
        for round_number in range(args.rounds):
            for count in counts:
                for name, method in methods.items():
                    chosen = units[:count]
                    fresh(chosen)
                    sent = sent_by_controller()
                    started = time.monotonic()
                    method(chosen, source, rate)
                    seconds = time.monotonic() - started
                    uplink = sent_by_controller() - sent
                    sums = on_units(chosen, lambda unit: f"sha256sum {DEST}/{NAME} | cut -d' ' -f1")
                    bad = [u.name for u, s in zip(chosen, sums) if s.strip() != digest]
                    if bad:
                        raise SystemExit(f"{name}, N={count}: wrong sha256 on {', '.join(bad)}")
                    figures.setdefault((name, count), []).append((seconds, uplink))
                    console.print(f"round {round_number + 1}  N={count}  {name:32} {seconds:6.1f} s  "
                                  f"uplink {uplink / size:4.2f} copies")
        if not args.keep:
            fresh(units)
        shutil.rmtree(served)
    table = Table(title=f"{size / 1e6:.0f} MB to N units, links {rate / 1000:g} Mbit/s (medians of {args.rounds} round(s))")
    table.add_column("method")
    for count in counts:
        table.add_column(f"N={count}", justify="right")
    table.add_column("T(max N)/T(1)", justify="right")
    for name in methods:
        cells, times = [], []
        for count in counts:
            runs = figures[(name, count)]
            seconds, uplink = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            times.append(seconds)
            cells.append(f"{seconds:.1f} s\n{uplink / size:.2f} copies up")
        table.add_row(name, *cells, f"{times[-1] / times[0]:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
