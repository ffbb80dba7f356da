#!/usr/bin/python3
"""thorfleet lab stand-in for the serving engines in NVIDIA's containers (vLLM, SGLang, Ollama,
Triton); not any of them. The entry point of the lab images `thorfleet-lab/<engine>:standin`.

It takes the engine's own command line (`vllm serve MODEL --host H --port P …`,
`python3 -m sglang.launch_server --model-path M …`, `ollama serve` with OLLAMA_HOST,
`tritonserver --http-address H --http-port P …`), listens where it says, and answers the
endpoints thorfleet's verify suite calls: /health, /v1/models, /v1/chat/completions,
/v1/completions (streamed too, as server-sent events), /metrics, Ollama's /api/tags and
/api/version, Triton's /v2/health/ready.
`--api-key K` (or VLLM_API_KEY) makes /v1 answer 401 without `Authorization: Bearer K`.
Replies are canned text: there is no model here.

`--help` prints the real help its engine printed, captured into help/ (help/README.md says from
which version and how); at start, a flag that help does not name ends it with argparse's exit
status 2, as the real engine would. Engines without a captured help accept any flag.
"""

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFILL_S, DECODE_S = 0.0002, 0.005
# The metrics vLLM and SGLang expose under these names (roles/engines/kinds.py), counted here from the
# stand-in's own requests: running, waiting (never, here), prompt and generated tokens.
METRICS = {
    "vllm": ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prompt_tokens_total", "vllm:generation_tokens_total"),
    "sglang": ("sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:prompt_tokens_total", "sglang:generation_tokens_total"),
}


def option(argv, *names, default=None):
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


def settings(argv):
    host, port = "127.0.0.1", 8000
    if "OLLAMA_HOST" in os.environ:
        host, _, port = os.environ["OLLAMA_HOST"].rpartition(":")
    host = option(argv, "--host", "--http-address", default=host)
    port = int(option(argv, "--port", "--http-port", default=port))
    model = option(argv, "--served-model-name", default=None)
    if model is None:
        model = option(argv, "--model-path", "--model", default=argv[2] if argv[:2] == ["vllm", "serve"] and len(argv) > 2 else "standin")
    key = option(argv, "--api-key", default=os.environ.get("VLLM_API_KEY"))
    return host, port, model, key


def handler(model, key, engine):
    started = int(time.time())
    counts = {"running": 0, "prompt": 0, "generated": 0}
    lock = threading.Lock()

    def count(**changes):
        with lock:
            for name, change in changes.items():
                counts[name] += change

    def exposition():
        running, waiting, prompt, generated = METRICS.get(engine, ("standin_requests_running",) + METRICS["vllm"][1:])
        with lock:
            return (f"# thorfleet lab stand-in of {engine}'s metrics\n# TYPE {running} gauge\n{running} {counts['running']}\n"
                    f"# TYPE {waiting} gauge\n{waiting} 0\n# TYPE {prompt} counter\n{prompt} {counts['prompt']}\n"
                    f"# TYPE {generated} counter\n{generated} {counts['generated']}\n")

    class Handler(BaseHTTPRequestHandler):
        server_version = f"thorfleet-lab-{engine}-standin"

        def reply(self, status, body, kind="application/json"):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorized(self):
            if key and self.path.startswith("/v1") and self.headers.get("Authorization") != f"Bearer {key}":
                self.reply(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
                return False
            return True

        def do_GET(self):
            if not self.authorized():
                return
            if self.path in ("/health", "/v2/health/ready", "/v2/health/live", "/"):
                return self.reply(200, {"status": "ok"} if self.path != "/" else "Ollama is running")
            if self.path == "/v1/models":
                return self.reply(200, {"object": "list", "data": [{"id": model, "object": "model", "created": started, "owned_by": engine}]})
            if self.path == "/api/tags":
                return self.reply(200, {"models": [{"name": model, "model": model}]})
            if self.path == "/api/version":
                return self.reply(200, {"version": "0.0.0-thorfleet-lab"})
            if self.path == "/metrics":
                return self.reply(200, exposition(), "text/plain; version=0.0.4")
            self.reply(404, {"error": {"message": f"{self.path} not found"}})

        def do_POST(self):
            if not self.authorized():
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self.reply(400, {"error": {"message": "body is not JSON"}})
            if request.get("stream"):
                return self.stream(request)
            text = f"lab stand-in reply from {engine} ({model})"
            prompt = request.get("messages") if self.path == "/v1/chat/completions" else request.get("prompt", "")
            words = len(" ".join(m.get("content", "") for m in prompt).split()) if isinstance(prompt, list) else len(str(prompt).split())
            usage = {"prompt_tokens": words, "completion_tokens": 8, "total_tokens": words + 8}
            count(prompt=words, generated=8)
            if self.path == "/v1/chat/completions":
                return self.reply(200, {"id": "chatcmpl-lab", "object": "chat.completion", "created": int(time.time()),
                                        "model": request.get("model", model), "usage": usage, "choices": [{
                                            "index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}]})
            if self.path == "/v1/completions":
                return self.reply(200, {"id": "cmpl-lab", "object": "text_completion", "created": int(time.time()),
                                        "model": request.get("model", model), "usage": usage,
                                        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})
            self.reply(404, {"error": {"message": f"{self.path} not found"}})

        def stream(self, request):
            """Server-sent events as vLLM and llama-server send them: one chunk a token, `data: [DONE]`
            last, usage in a final chunk when asked. Tokens are whitespace words; the pace (PREFILL_S
            a prompt token, DECODE_S an output token) is the stand-in's own, not a model's."""
            chat = self.path == "/v1/chat/completions"
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                return self.reply(404, {"error": {"message": f"{self.path} not found"}})
            prompt = " ".join(m.get("content", "") for m in request.get("messages", [])) if chat else request.get("prompt", "")
            prompt_tokens = len(str(prompt).split())
            wanted = int(request.get("max_tokens") or request.get("max_completion_tokens") or 16)
            forced = request.get("ignore_eos") or request.get("min_tokens")
            tokens = wanted if forced else min(wanted, 16)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            count(running=1, prompt=prompt_tokens)
            try:
                self.stream_tokens(request, chat, prompt_tokens, tokens)
            finally:
                count(running=-1, generated=tokens)

        def stream_tokens(self, request, chat, prompt_tokens, count):
            time.sleep(PREFILL_S * prompt_tokens)
            kind = "chat.completion.chunk" if chat else "text_completion"
            for index in range(count):
                word = f" w{index}"
                choice = {"index": 0, "delta": {"content": word}} if chat else {"index": 0, "text": word}
                choice["finish_reason"] = "length" if index == count - 1 else None
                self.event({"id": "lab", "object": kind, "created": int(time.time()), "model": request.get("model", model),
                            "choices": [choice]})
                time.sleep(DECODE_S)
            if (request.get("stream_options") or {}).get("include_usage"):
                self.event({"id": "lab", "object": kind, "choices": [], "usage": {
                    "prompt_tokens": prompt_tokens, "completion_tokens": count, "total_tokens": prompt_tokens + count}})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def event(self, data):
            self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            self.wfile.flush()

        def log_message(self, format, *args):
            sys.stderr.write(f"{engine}-standin {format % args}\n")

    return Handler


def captured_help(engine):
    path = Path(__file__).parent / "help" / f"{engine}.txt"
    return path.read_text() if path.exists() else None


def unknown_flags(argv, help_text):
    known = set(re.findall(r"(?<![\w-])--?[A-Za-z][\w.-]*", help_text))
    return [word.partition("=")[0] for word in argv if word.startswith("-") and word.partition("=")[0] not in known]


def main(argv):
    if argv[:1] == ["--version"]:
        print("thorfleet lab OpenAI-compatible stand-in 1")
        return 0
    names = {"vllm": "vllm", "sglang.launch_server": "sglang", "ollama": "ollama", "tritonserver": "triton"}
    word, engine = next(((w, n) for w, n in names.items() if w in argv), (None, "engine"))
    help_text = captured_help(engine)
    args = argv[argv.index(word) + 1:] if word else argv  # after `vllm`, `python3 -m sglang.launch_server`, …
    if any(arg in ("-h", "--help") or arg.startswith("--help=") for arg in args):
        if help_text is None:
            print(f"thorfleet lab stand-in: no captured --help of {engine}", file=sys.stderr)
            return 1
        print(help_text, end="")
        return 0
    unknown = unknown_flags(args, help_text) if help_text else []
    if unknown:
        print(f"{engine}: error: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
        return 2
    host, port, model, key = settings(argv)
    print(f"{engine} stand-in serving {model} on {host}:{port}", flush=True)
    ThreadingHTTPServer((host, port), handler(model, key, engine)).serve_forever()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
