"""A streaming load generator for OpenAI-compatible servers.

Standard library only (threads and http.client), so that it runs anywhere thorfleet does, the
device machine included, with nothing to download. Each request streams; the client notes when
each content chunk arrives. Requests are all queued at once and `concurrency` are in flight at any
time, as `vllm bench serve --max-concurrency N` with an infinite request rate.
"""

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # http://127.0.0.1:PORT, through a tunnel when the engine listens on loopback
    model: str
    api_key: str | None = field(default=None, repr=False)
    chat: bool = False  # /v1/chat/completions instead of /v1/completions

    def headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


@dataclass
class RequestResult:
    ok: bool
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft: float = 0.0  # s, request sent → first content chunk
    latency: float = 0.0  # s, request sent → end of the stream
    itl: list[float] = field(default_factory=list)  # s between content chunks
    error: str = ""
    server_timings: dict | None = None  # llama-server's own per-request `timings`, when it sends them


def post(endpoint: Endpoint, path: str, body: dict, timeout: float):
    url = urlsplit(endpoint.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    connection.request("POST", path, json.dumps(body), endpoint.headers())
    return connection, connection.getresponse()


def request_body(endpoint: Endpoint, prompt: str, output_len: int, stream: bool) -> dict:
    body = {"model": endpoint.model, "max_tokens": output_len, "stream": stream, "temperature": 0.0,
            # the output length forced where the engine allows it: llama-server and vLLM read ignore_eos, vLLM min_tokens
            "ignore_eos": True, "min_tokens": output_len}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if endpoint.chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def _content(chunk: dict) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    choice = choices[0]
    return choice.get("text") or (choice.get("delta") or {}).get("content") or (choice.get("delta") or {}).get("reasoning_content") or ""


def stream_one(endpoint: Endpoint, prompt: str, output_len: int, timeout: float = 600) -> RequestResult:
    path = "/v1/chat/completions" if endpoint.chat else "/v1/completions"
    start = time.perf_counter()
    try:
        connection, response = post(endpoint, path, request_body(endpoint, prompt, output_len, True), timeout)
    except OSError as err:
        return RequestResult(False, error=f"connection: {err}")
    try:
        if response.status != 200:
            return RequestResult(False, error=f"HTTP {response.status}: {response.read(300).decode(errors='replace')}")
        result, arrivals, usage = RequestResult(True), [], None
        while True:
            line = response.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            if _content(chunk):
                arrivals.append(time.perf_counter())
            usage = chunk.get("usage") or usage
            result.server_timings = chunk.get("timings") or result.server_timings
        result.latency = time.perf_counter() - start
    except (OSError, ValueError, http.client.HTTPException) as err:
        return RequestResult(False, error=f"stream: {err}")
    finally:
        connection.close()
    if not arrivals:
        return RequestResult(False, latency=result.latency, error="the stream carried no content")
    result.ttft = arrivals[0] - start
    result.itl = [b - a for a, b in zip(arrivals, arrivals[1:])]
    result.output_tokens = (usage or {}).get("completion_tokens") or len(arrivals)
    result.prompt_tokens = (usage or {}).get("prompt_tokens") or 0
    return result


def prompt_tokens(endpoint: Endpoint, prompt: str, timeout: float = 120) -> int:
    """How many tokens the server counts in a prompt (its own tokenizer and chat template)."""
    path = "/v1/chat/completions" if endpoint.chat else "/v1/completions"
    connection, response = post(endpoint, path, request_body(endpoint, prompt, 1, False), timeout)
    try:
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from {path}: {body[:200].decode(errors='replace')}")
        return int(json.loads(body)["usage"]["prompt_tokens"])
    finally:
        connection.close()


def run_load(endpoint: Endpoint, prompts: list[str], output_len: int, concurrency: int, on_done=None) -> tuple[list[RequestResult], float]:
    """Every prompt streamed with `concurrency` in flight; returns the results and the run's duration (s)."""
    start = time.perf_counter()
    results = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in as_completed([pool.submit(stream_one, endpoint, p, output_len) for p in prompts]):
            results.append(future.result())
            if on_done:
                on_done()
    return results, time.perf_counter() - start
