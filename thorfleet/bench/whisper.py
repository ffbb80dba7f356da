"""whisper-server: transcriptions of a WAV of known length at concurrency 1 and 4.

Figures: latency (request sent → transcription received) and the real-time factor, latency ÷
audio length (below 1 is faster than real time); audio seconds transcribed per second of the run.
"""

import http.client
import io
import math
import random
import statistics
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from thorfleet.bench.stats import percentile
from thorfleet.core.http import transcription_form

RATE = 16000
SHAPES = ((1, 4), (4, 8))  # (concurrency, requests)


def wav(seconds: float, seed: int = 1) -> bytes:
    """Mono 16 kHz speech-like sound (gliding tones and noise): whisper.cpp decodes it in full."""
    chooser = random.Random(seed)
    frames = bytearray()
    for i in range(int(seconds * RATE)):
        t = i / RATE
        value = 0.3 * math.sin(2 * math.pi * (180 + 60 * math.sin(2 * math.pi * 3 * t)) * t) + 0.05 * chooser.uniform(-1, 1)
        frames += int(value * 32767).to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(bytes(frames))
    return out.getvalue()


def transcribe(base_url: str, audio: bytes) -> tuple[bool, float, str]:
    body, content_type = transcription_form(audio)
    url = urlsplit(base_url)
    start = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    try:
        connection.request("POST", "/inference", body, {"Content-Type": content_type})
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        return response.status == 200 and '"text"' in text, time.perf_counter() - start, "" if response.status == 200 else text[:200]
    except OSError as err:
        return False, time.perf_counter() - start, str(err)
    finally:
        connection.close()


def summarize(outcomes: list, duration: float, seconds: float, concurrency: int) -> dict:
    latencies = [latency for ok, latency, _ in outcomes if ok]
    figures = {"completed": len(latencies), "failed": len(outcomes) - len(latencies), "max_concurrency": concurrency,
               "duration_s": duration, "audio_s": seconds,
               "mean_latency_ms": statistics.fmean(latencies) * 1000 if latencies else 0.0,
               "median_latency_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
               "p99_latency_ms": percentile(latencies, 99) * 1000,
               "mean_rtf": statistics.fmean(latencies) / seconds if latencies else 0.0,
               "audio_s_per_s": len(latencies) * seconds / duration if duration else 0.0}
    errors = sorted({error for ok, _, error in outcomes if not ok})
    if errors:
        figures["errors"] = errors[:5]
    return figures


def bench(base_url: str, seconds: float, progress, label: str) -> list[dict]:
    audio = wav(seconds)
    transcribe(base_url, audio)  # warm-up, not counted
    records = []
    for concurrency, count in SHAPES:
        task = progress.add_task(f"{label} c={concurrency}", total=count)

        def one(_):
            outcome = transcribe(base_url, audio)
            progress.advance(task)
            return outcome

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(one, range(count)))
        figures = summarize(outcomes, time.perf_counter() - start, seconds, concurrency)
        records.append({"shape": {"concurrency": concurrency, "prompts": count, "audio_s": seconds}, "figures": figures})
    return records
