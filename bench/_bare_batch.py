"""The bare streaming baseline: what a client that keeps nothing does for the same workload.

Reads the OpenAI batch lines of INPUT, writes them to upload files of at most 50,000 lines,
uploads and creates each batch over aiohttp, polls until every batch ends, then streams each
output file down, parses every line and writes one result line per request to OUT. No store,
no resume, no checks: the floor the framework is measured against.

    python bench/_bare_batch.py BASE_URL INPUT OUT
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import aiohttp

_KEY = "sk-bench-0000000000000000"
_PER_BATCH = 50_000


def _spool(lines: list[bytes], scratch: Path, index: int) -> Path:
    path = scratch / f"upload-{index}.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _chunks(source: Path, scratch: Path) -> list[Path]:
    paths: list[Path] = []
    lines: list[bytes] = []
    with source.open("rb") as handle:
        for raw in handle:
            json.loads(raw)
            lines.append(raw)
            if len(lines) == _PER_BATCH:
                paths.append(_spool(lines, scratch, len(paths)))
                lines = []
    if lines:
        paths.append(_spool(lines, scratch, len(paths)))
    return paths


async def _create(http: aiohttp.ClientSession, base: str, upload: Path) -> str:
    form = aiohttp.FormData()
    form.add_field("purpose", "batch")
    with upload.open("rb") as handle:
        form.add_field("file", handle, filename=upload.name, content_type="application/jsonl")
        async with http.post(f"{base}/files", data=form) as reply:
            file_id = (await reply.json())["id"]
    create = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    async with http.post(f"{base}/batches", json=create) as reply:
        return str((await reply.json())["id"])


async def _wait(http: aiohttp.ClientSession, base: str, batch_id: str) -> str:
    while True:
        async with http.get(f"{base}/batches/{batch_id}") as reply:
            batch = await reply.json()
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return str(batch["output_file_id"])
        await asyncio.sleep(0.2)


async def _download(http: aiohttp.ClientSession, base: str, file_id: str, out: object) -> int:
    count = 0
    async with http.get(f"{base}/files/{file_id}/content") as reply:
        async for raw in reply.content:
            line = json.loads(raw)
            body = line["response"]["body"]
            result = {
                "custom_id": line["custom_id"],
                "ok": line["response"]["status_code"] == 200,
                "text": body["choices"][0]["message"]["content"],
                "usage": body.get("usage"),
            }
            out.write(json.dumps(result).encode() + b"\n")  # type: ignore[attr-defined]
            count += 1
    return count


async def main(base: str, source: Path, target: Path) -> None:
    headers = {"Authorization": f"Bearer {_KEY}"}
    with tempfile.TemporaryDirectory() as scratch:
        uploads = _chunks(source, Path(scratch))
        async with aiohttp.ClientSession(headers=headers) as http:
            batch_ids = [await _create(http, base, upload) for upload in uploads]
            outputs = [await _wait(http, base, batch_id) for batch_id in batch_ids]
            with target.open("wb") as out:
                count = sum([await _download(http, base, file_id, out) for file_id in outputs])
    print(count)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
