"""The pipeline's side of the training callback: sign and send a run's answer (no Django; copy it freely).

A `webhook` trainer backend is an external pipeline: Loupe POSTs it the run (id, nonce, dataset link,
callback URL), and the pipeline answers once at the callback URL, with headers signed for that run before the
body (Loupe checks them before reading a byte of it):

    X-Loupe-Timestamp:      unix seconds, now (accepted within 5 minutes of the server's clock)
    X-Loupe-Content-SHA256: hex SHA-256 of the exact body
    Content-Length:         the body's length (required: no chunked bodies)
    X-Loupe-Signature:      "sha256=" + hex HMAC-SHA256(secret, "{run}.{timestamp}.{content_length}.{content_sha256}")

The body is a multipart form: `payload` (JSON: the run's `nonce`, `status` "succeeded" or "failed", `log`?,
`error`?) and, when it succeeded, `model` (the .onnx file). `send_callback` builds the form in a temporary file
while hashing it (a model may be hundreds of MB), then streams it.

    python -m activelearning.training.trainers.callback --callback URL --run 12 --nonce N --model out.onnx
    (the secret from $LOUPE_TRAINER_SECRET)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import IO, Any


def callback_signature(secret: str, *, run_id: int, timestamp: int, content_length: int, content_sha256: str) -> str:
    """The `X-Loupe-Signature` of a callback: binds the run, the time and the exact body (length and hash)."""
    message = f"{run_id}.{timestamp}.{content_length}.{content_sha256}".encode()
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, *, run_id: int, content_length: int, content_sha256: str, content_type: str,
                   timestamp: int | None = None) -> dict[str, str]:
    """The headers of a callback whose body has this length and SHA-256."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": content_type, "Content-Length": str(content_length), "X-Loupe-Timestamp": str(timestamp),
            "X-Loupe-Content-SHA256": content_sha256,
            "X-Loupe-Signature": callback_signature(secret, run_id=run_id, timestamp=timestamp,
                                                    content_length=content_length, content_sha256=content_sha256)}


def write_form(out: IO[bytes], payload: dict[str, Any], model: Path | None) -> tuple[str, int, str]:
    """Write the multipart body to `out`; its content type, length and hex SHA-256."""
    boundary = "loupe-" + secrets.token_hex(16)
    digest, size = hashlib.sha256(), 0

    def emit(data: bytes) -> None:
        nonlocal size
        out.write(data)
        digest.update(data)
        size += len(data)

    emit(f'--{boundary}\r\nContent-Disposition: form-data; name="payload"\r\n'
         "Content-Type: application/json\r\n\r\n".encode() + json.dumps(payload).encode() + b"\r\n")
    if model is not None:
        emit(f'--{boundary}\r\nContent-Disposition: form-data; name="model"; filename="model.onnx"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n".encode())
        with model.open("rb") as source:
            while chunk := source.read(1 << 20):
                emit(chunk)
        emit(b"\r\n")
    emit(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", size, digest.hexdigest()


def send_callback(callback_url: str, *, secret: str, run_id: int, payload: dict[str, Any],
                  model: Path | None = None, timeout: float = 300.0) -> Any:
    """Sign and POST a run's answer; the httpx response (200 with the run, or the error JSON)."""
    import httpx  # only the sender needs it

    with tempfile.TemporaryFile() as body:
        content_type, size, sha256 = write_form(body, payload, model)
        body.seek(0)
        headers = signed_headers(secret, run_id=run_id, content_length=size, content_sha256=sha256,
                                 content_type=content_type)

        def stream() -> Any:
            while chunk := body.read(1 << 20):
                yield chunk

        return httpx.post(callback_url, content=stream(), headers=headers, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--callback", required=True, help="the `callback` URL Loupe sent with the run")
    parser.add_argument("--run", type=int, required=True, help="the run id Loupe sent")
    parser.add_argument("--nonce", required=True, help="the run's nonce Loupe sent")
    parser.add_argument("--model", type=Path, help="the trained .onnx (omit with --error)")
    parser.add_argument("--error", help="the run failed: why")
    parser.add_argument("--log", type=Path, help="a file with the training log to attach")
    args = parser.parse_args(argv)
    secret = os.environ.get("LOUPE_TRAINER_SECRET", "")
    if not secret:
        parser.error("set LOUPE_TRAINER_SECRET to the project's trainer secret")
    payload: dict[str, Any] = {"nonce": args.nonce, "status": "failed" if args.error or not args.model
                               else "succeeded"}
    if args.error:
        payload["error"] = args.error
    if args.log:
        payload["log"] = args.log.read_text(errors="replace")[-200_000:]
    response = send_callback(args.callback, secret=secret, run_id=args.run, payload=payload,
                             model=None if args.error else args.model)
    print(response.text)  # noqa: T201 (the CLI's output)
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
