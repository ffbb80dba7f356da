"""The engines of each unit: units, listeners, health, one real request each.

Requests are made from the controller through an SSH forward to the engine's port as the unit sees it
(engines may listen on loopback only), so that no API key is ever on a command line."""

import io
import json
import urllib.request
import wave

from thorfleet.core.checks import CheckedUnit, EngineCase, for_each_engine
from thorfleet.core.fleet import CHAT, TRANSCRIPTION
from thorfleet.core.http import bearer, send, transcription_form
from thorfleet.core.paths import unit_name
from thorfleet.roles.engines.config import EngineBase
from thorfleet.roles.engines.deploy import local_address


def request(unit: CheckedUnit, engine: EngineBase, path: str, body: bytes | None = None, content_type: str = "application/json",
            key: bool = True) -> tuple[int, str]:
    """(HTTP status, body) of one request to the engine, through a forward of its port."""
    headers = bearer(engine.api_key.read()) if engine.api_key and key else {}
    if body is not None:
        headers["Content-Type"] = content_type
    with unit.forward(local_address(engine), engine.port) as port:
        return send(urllib.request.Request(f"http://127.0.0.1:{port}{path}", body, headers), timeout=120)


@for_each_engine()
def test_engine_unit_is_enabled_and_running(case: EngineCase) -> None:
    unit, name, _ = case
    service = unit.host.service(f"{unit_name(name)}.service")
    assert service.is_enabled and service.is_running


@for_each_engine()
def test_engine_listens_on_its_address_only(case: EngineCase) -> None:
    unit, name, engine = case
    with unit.host.sudo():
        listening = [line.split()[3] for line in unit.host.check_output("ss -ltnH").splitlines() if line.strip()]
    allowed = {engine.bind} | ({"::", "*"} if engine.bind == "0.0.0.0" else set())
    for port in engine.ports:
        bound = {a.rsplit(":", 1)[0].strip("[]") for a in listening if a.rsplit(":", 1)[1] == str(port)}
        assert bound and bound <= allowed, f"port {port} bound on {sorted(bound)}, configured {engine.bind}"


@for_each_engine()
def test_engine_is_healthy(case: EngineCase) -> None:
    unit, _, engine = case
    assert request(unit, engine, engine.health_path)[0] == 200


@for_each_engine(lambda engine: engine.serves == CHAT)
def test_llm_engine_lists_its_model_and_completes_a_chat(case: EngineCase) -> None:
    unit, name, engine = case
    code, text = request(unit, engine, "/v1/models")
    listed = [model["id"] for model in json.loads(text)["data"]] if code == 200 else text
    for served, _ in engine.served(name):  # each model of a router: loaded for this request if it was not
        assert served in listed, f"{served} not in {listed}"
        body = {"model": served, "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 8}
        code, text = request(unit, engine, "/v1/chat/completions", json.dumps(body).encode())
        assert code == 200, f"{served}: {code} {text[:300]}"
        assert json.loads(text)["choices"][0]["message"]["content"], text
    if engine.api_key:
        assert request(unit, engine, "/v1/models", key=False)[0] == 401, "answers without its API key"


def silence(seconds: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(bytes(32000 * seconds))
    return out.getvalue()


@for_each_engine(lambda engine: engine.serves == TRANSCRIPTION)
def test_whisper_server_transcribes_a_wav(case: EngineCase) -> None:
    unit, _, engine = case
    body, content_type = transcription_form(silence(1))
    code, text = request(unit, engine, "/inference", body, content_type)
    assert code == 200 and "text" in json.loads(text), f"{code} {text[:300]}"
