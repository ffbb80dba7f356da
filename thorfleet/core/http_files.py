"""Sending a file over HTTP with Range support (resumable downloads), for http.server handlers."""

import re
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path


def send_file(handler: BaseHTTPRequestHandler, target: Path, rate: int | None = None) -> tuple[int, int]:
    """Answer GET/HEAD for `target`, honouring `Range: bytes=N-[M]`; `rate` caps bytes per second.
    Returns (first byte, bytes sent)."""
    size = target.stat().st_size
    start, end = 0, size - 1
    ranged = re.match(r"bytes=(\d+)-(\d*)$", handler.headers.get("Range", ""))
    if ranged:
        start = int(ranged.group(1))
        end = min(int(ranged.group(2)), size - 1) if ranged.group(2) else size - 1
        if start >= size:
            handler.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            handler.send_header("Content-Range", f"bytes */{size}")
            handler.end_headers()
            return start, 0
    handler.send_response(206 if ranged else 200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(end - start + 1))
    handler.send_header("Accept-Ranges", "bytes")
    if ranged:
        handler.send_header("Content-Range", f"bytes {start}-{end}/{size}")
    handler.end_headers()
    sent = 0
    if handler.command == "HEAD":
        return start, sent
    with open(target, "rb") as data:
        data.seek(start)
        remaining = end - start + 1
        while remaining > 0 and (block := data.read(min(1 << 16 if rate else 1 << 20, remaining))):
            handler.wfile.write(block)
            remaining -= len(block)
            sent += len(block)
            if rate:
                time.sleep(len(block) / rate)
    return start, sent
