"""The engines of each unit: units, listeners, health, the model served, one real request each."""

import json
import shlex

from thorfleet.core.checks import for_each_engine, for_each_routed_engine
from thorfleet.core.paths import unit_name
from thorfleet.roles.builds.files import ENGINES
from thorfleet.roles.engines.commands import served_name
from thorfleet.roles.engines.config import NativeEngine
from thorfleet.roles.engines.deploy import health_url
from thorfleet.roles.gateway.routes import routed_at
from thorfleet.roles.gateway.runtime import Gateway, smoke
from thorfleet.roles.models.fetch_model import STAMPS

WAV = "/tmp/thorfleet-verify.wav"


def url(engine, path: str) -> str:
    return health_url(engine).replace(engine.health_path, path)


def request(unit, address: str, engine, body: dict | None = None, form: str = "", key: bool = True) -> tuple[int, str]:
    """An HTTP request made on the unit itself (engines may listen on loopback only)."""
    headers = ""
    if engine.api_key and key:
        headers = f"-H {shlex.quote('Authorization: Bearer ' + engine.api_key.read())} "
    data = f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))} " if body else form
    out = unit.host.run(f"curl -sS -m 120 -w '\\n%{{http_code}}' {headers}{data}{shlex.quote(address)}")
    text, _, code = out.stdout.rpartition("\n")
    return int(code or 0), text


@for_each_engine()
def test_engine_unit_is_enabled_and_running(case):
    unit, name, _ = case
    service = unit.host.service(f"{unit_name(name)}.service")
    assert service.is_enabled and service.is_running


@for_each_engine()
def test_engine_listens_on_its_address_only(case):
    unit, name, engine = case
    with unit.host.sudo():
        listening = [line.split()[3] for line in unit.host.check_output("ss -ltnH").splitlines() if line.strip()]
    allowed = {engine.bind} | ({"::", "*"} if engine.bind == "0.0.0.0" else set())
    for port in engine.ports:
        bound = {a.rsplit(":", 1)[0].strip("[]") for a in listening if a.rsplit(":", 1)[1] == str(port)}
        assert bound and bound <= allowed, f"port {port} bound on {sorted(bound)}, configured {engine.bind}"


@for_each_engine()
def test_engine_is_healthy(case):
    unit, _, engine = case
    assert request(unit, health_url(engine), engine)[0] == 200


@for_each_engine(lambda engine: engine.serves == "chat")
def test_llm_engine_lists_its_model_and_completes_a_chat(case):
    unit, name, engine = case
    code, text = request(unit, url(engine, "/v1/models"), engine)
    assert code == 200 and served_name(name, engine) in text, text
    body = {"model": served_name(name, engine), "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 8}
    code, text = request(unit, url(engine, "/v1/chat/completions"), engine, body)
    assert code == 200, f"{code} {text[:300]}"
    assert json.loads(text)["choices"][0]["message"]["content"], text
    if engine.api_key:
        assert request(unit, url(engine, "/v1/models"), engine, key=False)[0] == 401, "answers without its API key"


@for_each_engine(lambda engine: engine.serves == "transcription")
def test_whisper_server_transcribes_a_wav(case):
    unit, _, engine = case
    unit.host.run("python3 -c " + shlex.quote(
        f"import wave; w = wave.open('{WAV}', 'wb'); w.setnchannels(1); w.setsampwidth(2); "
        "w.setframerate(16000); w.writeframes(bytes(32000)); w.close()"))
    code, text = request(unit, url(engine, "/inference"), engine, form=f"-F file=@{WAV} -F response_format=json ")
    assert code == 200 and "text" in json.loads(text), f"{code} {text[:300]}"


@for_each_engine(lambda engine: isinstance(engine, NativeEngine))
def test_native_engine_runs_the_pinned_build(case):
    unit, _, engine = case
    build = getattr(unit.config.builds, engine.build)
    current = f"{unit.config.builds.root}/{ENGINES[engine.build]}/current"
    assert json.loads(unit.host.file(f"{current}/stamp.json").content_string)["ref"] == build.ref
    if len(build.ref) == 40:  # a commit pin: the source really was that commit
        assert unit.host.file(f"{current}/commit").content_string.strip() == build.ref


@for_each_engine(lambda engine: engine.model is not None)
def test_engine_model_is_verified(case):
    unit, _, engine = case
    model = unit.config.model_of(engine)
    with unit.host.sudo():
        stamps = json.loads(unit.host.file(f"{unit.config.model_store.dest(model)}/{STAMPS}").content_string)
    assert stamps and (model.file is None or model.file in stamps)


@for_each_routed_engine
def test_engine_is_up_at_each_gateway_and_answers_through_it(case):
    """As clients reach it: the gateway's health check passes (DRAIN: a rollout is on this unit) and a
    request pinned to this engine through the gateway is answered."""
    unit, name, _ = case
    for gateway_host, route, backend in routed_at(unit.fleet, unit.name, name):
        key = gateway_host.config.gateway.api_key
        with Gateway(gateway_host) as gateway, gateway.endpoint() as base:
            (state,) = [row["status"] for row in gateway.servers() if row["server"] == backend.server]
            assert state.startswith(("UP", "DRAIN")), f"{backend.server} is {state} at {gateway_host.name}"
            if route.serves == "chat":
                status, body = smoke(base, route, key.read() if key else None, backend.server)
                assert status == 200, f"through {gateway_host.name}: HTTP {status} {body[:300]}"
