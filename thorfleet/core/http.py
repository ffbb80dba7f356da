"""Plain HTTP requests from the controller (verify checks, status, the gateway's smoke test):
(status, body), with the reason as the body and status 0 when nothing answered."""

import base64
import urllib.error
import urllib.request
import uuid


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def basic(user: str, password: str | None) -> dict[str, str]:
    if not password:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def send(request: urllib.request.Request, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except OSError as err:
        return 0, str(err)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str]:
    return send(urllib.request.Request(url, headers=headers or {}), timeout)


def transcription_form(audio: bytes) -> tuple[bytes, str]:
    """(body, content type) of whisper-server's /inference form: the WAV, and JSON asked for."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + audio + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\njson\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"
