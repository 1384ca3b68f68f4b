"""The File API's resumable upload, for batch input too large to send inline.

The protocol: a `start` request names the file and its size and gets an upload URL back in
`x-goog-upload-url`; the bytes then go to that URL in chunks, each with its offset, the last one
with `upload, finalize`, and the server reports `x-goog-upload-status` (`active` until `final`).
The upload URL authorises itself (it carries an upload id), so the key is not sent with the
chunks, and the URL is moved onto the configured host before use.
"""

from __future__ import annotations

import asyncio
from typing import IO

import msgspec
import structlog
from batchery.spi import ProviderError

from ._http import GeminiHttp
from ._wire import FileList, UploadedFile, to_int

__all__ = ["JSONL_MIME_TYPE", "Uploader"]

JSONL_MIME_TYPE = "application/jsonl"

_log = structlog.get_logger()
_ENCODER = msgspec.json.Encoder()


class Uploader:
    """Uploads and finds batch input files for one project."""

    __slots__ = ("_http",)

    def __init__(self, http: GeminiHttp) -> None:
        self._http = http

    async def upload(self, file: IO[bytes], size: int, display_name: str) -> str:
        """Send `size` bytes of `file` and return the new file's name (`files/...`)."""
        options = self._http.options
        path = f"/upload/{options.api_version}/files"
        start = {"file": {"displayName": display_name, "mimeType": JSONL_MIME_TYPE}}
        reply = await self._http.send(
            "POST",
            path,
            json=_ENCODER.encode(start),
            headers={
                "X-Goog-Upload-Protocol": "resumable",
                "X-Goog-Upload-Command": "start",
                "X-Goog-Upload-Header-Content-Length": str(size),
                "X-Goog-Upload-Header-Content-Type": JSONL_MIME_TYPE,
            },
        )
        if reply.status >= 300:
            raise self._http.error_for("POST", path, reply)
        location = reply.headers.get("x-goog-upload-url")
        if not location:
            raise ProviderError(
                "Gemini started an upload without an upload URL", code="bad_response"
            )
        url = self._http.same_origin(location)
        offset = 0
        while True:
            chunk = await asyncio.to_thread(file.read, options.upload_chunk_bytes)
            last = offset + len(chunk) >= size or not chunk
            reply = await self._http.send(
                "POST",
                "upload session",
                data=chunk,
                url=url,
                auth=False,
                headers={
                    "X-Goog-Upload-Command": "upload, finalize" if last else "upload",
                    "X-Goog-Upload-Offset": str(offset),
                    "Content-Type": JSONL_MIME_TYPE,
                },
                timeout_s=options.upload_timeout_s,
            )
            if reply.status >= 300:
                raise self._http.error_for("POST", "upload session", reply)
            offset += len(chunk)
            state = reply.headers.get("x-goog-upload-status", "")
            if last or state != "active":
                break
        if state != "final":
            raise ProviderError(
                f"Gemini left the upload unfinished (status {state[:20]!r})",
                code="upload_failed",
                retryable=True,
            )
        name = self._http.decode(reply.body, UploadedFile, "upload reply").file.name
        _log.info("gemini.file.uploaded", file=name, bytes=size)
        return name

    async def find(self, display_name: str, size: int) -> str | None:
        """An earlier upload of exactly this input, found by its display name and size."""
        path = self._http.options.api_path("files")
        token: str | None = None
        for _ in range(self._http.options.max_list_pages):
            params = {"pageSize": "100"}
            if token:
                params["pageToken"] = token
            page = self._http.decode(await self._http.get(path, params), FileList, "file list")
            for file in page.files:
                if (
                    file.display_name == display_name
                    and to_int(file.size_bytes) == size
                    and file.state not in ("FAILED", "STATE_FAILED")
                ):
                    return file.name
            if not page.next_page_token or page.next_page_token == token:
                return None
            token = page.next_page_token
        return None
