"""thorfleet bench: the statistics against hand-computed cases, the client against a local streaming
server with known timings, prompts calibrated to an exact length, the report and compare."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from thorfleet.bench import prompts, report, whisper
from thorfleet.bench.client import Endpoint, RequestResult, run_load, stream_one
from thorfleet.bench.stats import percentile, summarize
from thorfleet.commands import main

FIRST_S, GAP_S, KEY = 0.20, 0.03, "bench-test-key"


def test_percentile_interpolates_between_ranks_as_numpy_does():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 99) == pytest.approx(49.6)
    assert percentile([7], 99) == 7 and percentile([], 99) == 0.0


def test_summary_follows_vllm_bench_serve_definitions():
    results = [RequestResult(True, 100, 5, ttft=0.1, latency=0.5, itl=[0.1, 0.1, 0.1, 0.1]),
               RequestResult(True, 120, 3, ttft=0.3, latency=0.7, itl=[0.2, 0.2]),
               RequestResult(False, error="HTTP 500")]
    f = summarize(results, duration=2.0, concurrency=2)
    assert (f["completed"], f["failed"], f["total_input_tokens"], f["total_output_tokens"]) == (2, 1, 220, 8)
    assert f["output_throughput"] == 4.0 and f["total_token_throughput"] == 114.0 and f["request_throughput"] == 1.0
    assert f["mean_ttft_ms"] == pytest.approx(200) and f["median_ttft_ms"] == pytest.approx(200)
    # TPOT: (0.5 - 0.1) / 4 = 100 ms and (0.7 - 0.3) / 2 = 200 ms
    assert f["mean_tpot_ms"] == pytest.approx(150) and f["p99_tpot_ms"] == pytest.approx(199)
    assert f["mean_itl_ms"] == pytest.approx(800 / 6) and f["median_itl_ms"] == pytest.approx(100)
    assert f["mean_e2el_ms"] == pytest.approx(600) and f["errors"] == ["HTTP 500"]


class Streaming(BaseHTTPRequestHandler):
    """Counts a prompt's words as tokens; streams one chunk a token: the first after FIRST_S, then every GAP_S."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self.send_response(401)
            self.end_headers()
            return
        tokens = len(body["prompt"].split()) + 3  # a BOS and a template, say
        if not body["stream"]:
            data = json.dumps({"usage": {"prompt_tokens": tokens, "completion_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        time.sleep(FIRST_S)
        for i in range(body["max_tokens"]):
            if i:
                time.sleep(GAP_S)
            self.wfile.write(b"data: " + json.dumps({"choices": [{"text": f" t{i}"}]}).encode() + b"\n\n")
            self.wfile.flush()
        usage = {"prompt_tokens": tokens, "completion_tokens": body["max_tokens"]}
        self.wfile.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\ndata: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Streaming)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Endpoint(f"http://127.0.0.1:{httpd.server_address[1]}", "m", KEY)
    httpd.shutdown()


def test_client_measures_known_timings(server):
    result = stream_one(server, "a b c", 6)
    assert result.ok and result.output_tokens == 6 and result.prompt_tokens == 6
    assert result.ttft == pytest.approx(FIRST_S, abs=0.05)
    assert (result.latency - result.ttft) / 5 == pytest.approx(GAP_S, abs=0.01)
    assert len(result.itl) == 5 and all(gap == pytest.approx(GAP_S, abs=0.02) for gap in result.itl)


def test_concurrency_runs_requests_side_by_side_and_failures_are_counted(server):
    results, duration = run_load(server, ["a b"] * 4, 4, concurrency=4)
    assert all(r.ok for r in results) and duration < 2 * (FIRST_S + 3 * GAP_S)
    failed = stream_one(Endpoint(server.base_url, "m", "wrong"), "a", 2)
    assert not failed.ok and failed.error.startswith("HTTP 401")


def test_prompts_are_calibrated_to_the_servers_count_and_differ(server):
    words = prompts.calibrate(server, 50)
    assert words == 47  # the server adds 3 tokens to the words
    made = prompts.prompts(words, 3, 0)
    assert len(set(made)) == 3 and all(len(p.split()) == 47 for p in made)


def test_a_wav_of_known_length():
    import io
    import wave

    with wave.open(io.BytesIO(whisper.wav(2.5))) as file:
        assert file.getnframes() / file.getframerate() == 2.5


def record(host="sim-01", throughput=100.0, ttft=200.0, failed=0, concurrency=1):
    figures = {"completed": 10, "failed": failed, "max_concurrency": concurrency, "duration_s": 1.0, "total_input_tokens": 100,
               "total_output_tokens": 100, "request_throughput": 10.0, "output_throughput": throughput,
               "total_token_throughput": 2 * throughput, **{f"{s}_{n}_ms": ttft for s in ("mean", "median", "p99")
                                                            for n in ("ttft", "tpot", "itl", "e2el")},
               "server_timings": {"prompt_per_second": 900.0, "predicted_per_second": 40.0}}  # llama-server's own, averaged
    return {"host": host, "engine": "qwen3", "unit": {"nvpmodel": {"name": "MAXN"}, "clocks_locked": True},
            "context": {"kind": "llama-server", "served_model": "qwen3", "command_line": "llama-server -m x"},
            "shape": {"concurrency": concurrency, "prompts": 10, "input_len": 2048, "output_len": 128},
            "figures": figures, "status": ["1 failed requests"] if failed else []}


def results(*records):
    return {"thorfleet": "0", "started": "t0", "finished": "t1", "inventory": "inventory/sim.py", "records": list(records)}


def test_report_has_the_seed_tables_the_serving_block_and_plots(tmp_path):
    written = report.write(results(record(), record(concurrency=8, failed=1)), tmp_path)
    assert {p.name for p in written} == {"results.json", "report.md", "throughput.png", "ttft.png"}
    text = (tmp_path / "report.md").read_text()
    assert "## concurrency 1, 10 prompts, input 2048 tokens, output 128 tokens" in text
    assert "| sim-01 | qwen3 | llama-server | qwen3 | MAXN | locked | 100.0 |" in text
    assert "============ Serving Benchmark Result ============" in text and "1 failed requests" in text
    assert (tmp_path / "throughput.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_fails_on_a_regression_beyond_the_tolerance(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "results.json").write_text(json.dumps(results(record())))
    (tmp_path / "new" / "results.json").write_text(json.dumps(results(record(throughput=95.0))))
    ok = CliRunner().invoke(main, ["bench", "compare", str(tmp_path / "old"), str(tmp_path / "new")])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "new" / "results.json").write_text(json.dumps(results(record(throughput=80.0))))
    worse = CliRunner().invoke(main, ["bench", "compare", str(tmp_path / "old"), str(tmp_path / "new")])
    assert worse.exit_code == 1 and "regressed" in worse.output and "-20.0%" in worse.output
    (tmp_path / "new" / "results.json").write_text(json.dumps(results(record(host="other"))))
    assert CliRunner().invoke(main, ["bench", "compare", str(tmp_path / "old"), str(tmp_path / "new")]).exit_code == 2


def test_an_unreachable_unit_is_reported_per_engine_not_a_traceback(project_copy):
    """The example inventory pointed at a loopback port where nothing listens (tests/conftest.py)."""
    out = project_copy / "out"
    done = CliRunner().invoke(main, ["bench", str(project_copy / "inventory" / "lab.py"), "--limit", "thor-01", "--out", str(out)])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), (done.output, done.exception)
    records = json.loads((out / "results.json").read_text())["records"]
    assert {(r["engine"], r["figures"]) for r in records} == {("qwen3-8b", None), ("whisper", None), ("on-demand", None)}
    assert all(" cannot be reached over SSH: nothing accepts connections there (refused)" in r["status"][0] for r in records)
    assert "## not measured" in (out / "report.md").read_text()
