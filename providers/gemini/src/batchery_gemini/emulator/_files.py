"""The File API: resumable uploads, file metadata, and downloads, every byte kept on disk.

An upload starts with `X-Goog-Upload-Protocol: resumable` and `X-Goog-Upload-Command: start`
and is answered with an upload URL in `x-goog-upload-url` (this same path with an `upload_id`).
The bytes then arrive at that URL in one or more chunks, each naming its offset, the last one
with `upload, finalize`; `query` reports how much has arrived. The declared size
(`X-Goog-Upload-Header-Content-Length`) must match what arrives.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from batchery.emulator import ScaledClock

from batchery_gemini.emulator._http import ApiError, json_response
from batchery_gemini.emulator._wire import FileList, FileResource, rfc3339

__all__ = ["FILE_TTL_S", "MAX_FILE_BYTES", "FileStore", "StoredFile", "new_id", "sha256_base64"]

MAX_FILE_BYTES = 2 * 1024**3
"""The documented limit for a batch input file."""
FILE_TTL_S = 48 * 3600
"""Uploaded files expire after 48 hours (UNVERIFIED for batch inputs; results live longer)."""
RESULTS_TTL_S = 42 * 24 * 3600
"""Results files are kept six weeks."""

_CHUNK = 256 * 1024
_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int = 12) -> str:
    """A lowercase alphanumeric id, like the ones in Google's file and batch names."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StoredFile:
    def __init__(self, wire: FileResource, path: Path) -> None:
        self.wire = wire
        self.path = path


def sha256_base64(path: Path) -> str:
    """A file's SHA-256 as the File API reports it: the hex digest, base64-encoded."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return _hash_field(digest)


def _hash_field(digest: Any) -> str:
    return base64.b64encode(digest.hexdigest().encode()).decode()


class _Session:
    def __init__(self, path: Path, size: int | None, display_name: str | None, mime: str) -> None:
        self.path = path
        self.size = size
        self.display_name = display_name
        self.mime = mime
        self.received = 0
        self.digest = hashlib.sha256()


class FileStore:
    def __init__(self, root: Path, clock: ScaledClock) -> None:
        self._root = root
        self._clock = clock
        self._files: dict[str, StoredFile] = {}
        self._sessions: dict[str, _Session] = {}

    def scratch_path(self) -> Path:
        return self._root / f"scratch-{new_id(20)}"

    def _register(
        self,
        path: Path,
        name: str,
        *,
        display_name: str | None,
        mime: str,
        sha256: str,
        generated: bool,
    ) -> FileResource:
        final = self._root / name.replace("/", "_")
        path.replace(final)
        now = self._clock.now()
        wire = FileResource(
            name=name,
            display_name=display_name,
            mime_type=mime,
            size_bytes=str(final.stat().st_size),
            create_time=rfc3339(now),
            update_time=rfc3339(now),
            expiration_time=rfc3339(now + (RESULTS_TTL_S if generated else FILE_TTL_S)),
            sha256_hash=sha256,
            uri=f"https://generativelanguage.googleapis.com/v1beta/{name}",
            download_uri=f"https://generativelanguage.googleapis.com/download/v1beta/{name}"
            ":download?alt=media"
            if generated
            else None,
            state="ACTIVE",
            source="GENERATED" if generated else "UPLOADED",
        )
        self._files[name] = StoredFile(wire, final)
        return wire

    def add_generated(self, path: Path, name: str, sha256: str) -> FileResource:
        """Register a results file written at `path` under `name` (`files/batch-...`)."""
        return self._register(
            path, name, display_name=None, mime="application/jsonl", sha256=sha256, generated=True
        )

    async def start(self, request: web.Request) -> web.StreamResponse:
        headers = request.headers
        if headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable":
            raise ApiError(400, "Only the resumable upload protocol is emulated.")
        if headers.get("X-Goog-Upload-Command", "").lower() != "start":
            raise ApiError(400, "A resumable upload begins with X-Goog-Upload-Command: start.")
        raw_size = headers.get("X-Goog-Upload-Header-Content-Length")
        if raw_size is not None and not raw_size.isdigit():
            raise ApiError(400, "X-Goog-Upload-Header-Content-Length must be a number.")
        size = int(raw_size) if raw_size is not None else None
        if size is not None and size > MAX_FILE_BYTES:
            raise ApiError(400, f"The file is larger than the {MAX_FILE_BYTES} byte limit.")
        metadata = _file_metadata(await request.read())
        mime = headers.get("X-Goog-Upload-Header-Content-Type") or metadata.get("mimeType")
        display = metadata.get("displayName", metadata.get("display_name"))
        upload_id = new_id(40)
        session = _Session(
            self.scratch_path(),
            size,
            display if isinstance(display, str) else None,
            mime if isinstance(mime, str) and mime else "application/octet-stream",
        )
        session.path.touch()
        self._sessions[upload_id] = session
        url = f"{request.scheme}://{request.host}{request.path}?upload_id={upload_id}"
        return web.Response(
            status=200,
            headers={
                "x-goog-upload-url": f"{url}&upload_protocol=resumable",
                "x-goog-upload-status": "active",
                "x-goog-upload-chunk-granularity": str(_CHUNK),
            },
        )

    async def receive(self, request: web.Request) -> web.StreamResponse:
        """One command on an upload session: `upload`, `upload, finalize`, `finalize`, `query`."""
        upload_id = request.query["upload_id"]
        session = self._sessions.get(upload_id)
        if session is None:
            raise ApiError(404, "The upload session does not exist or has ended.")
        commands = {
            c.strip().lower() for c in request.headers.get("X-Goog-Upload-Command", "").split(",")
        }
        if "query" in commands:
            return _status("active", session.received)
        if "cancel" in commands:
            self._end(upload_id)
            session.path.unlink(missing_ok=True)
            return _status("cancelled", session.received)
        if "upload" in commands:
            offset = request.headers.get("X-Goog-Upload-Offset", "")
            if offset != str(session.received):
                raise ApiError(
                    400,
                    f"X-Goog-Upload-Offset {offset!r} is not {session.received}.",
                    headers={"x-goog-upload-status": "active"},
                )
            await self._append(request, session, upload_id)
        if "finalize" not in commands:
            if "upload" not in commands:
                raise ApiError(400, "X-Goog-Upload-Command must be upload, finalize or query.")
            return _status("active", session.received)
        self._end(upload_id)
        if session.size is not None and session.size != session.received:
            session.path.unlink(missing_ok=True)
            raise ApiError(
                400,
                f"The upload declared {session.size} bytes but {session.received} arrived.",
                headers={"x-goog-upload-status": "final"},
            )
        wire = self._register(
            session.path,
            f"files/{new_id()}",
            display_name=session.display_name,
            mime=session.mime,
            sha256=_hash_field(session.digest),
            generated=False,
        )
        return json_response({"file": wire}, headers={"x-goog-upload-status": "final"})

    async def _append(self, request: web.Request, session: _Session, upload_id: str) -> None:
        with session.path.open("ab") as out:
            while chunk := await request.content.read(_CHUNK):
                session.received += len(chunk)
                if session.received > MAX_FILE_BYTES:
                    self._end(upload_id)
                    session.path.unlink(missing_ok=True)
                    raise ApiError(400, f"The file is larger than {MAX_FILE_BYTES} bytes.")
                session.digest.update(chunk)
                out.write(chunk)

    def _end(self, upload_id: str) -> None:
        self._sessions.pop(upload_id, None)

    def get(self, name: str) -> StoredFile:
        stored = self._files.get(name)
        if stored is None:
            raise ApiError(
                403,
                f"You do not have permission to access the File {name.removeprefix('files/')}"
                " or it may not exist.",
                status="PERMISSION_DENIED",
            )
        return stored

    def list_page(self, *, size: int, token: str | None) -> FileList:
        files = [f.wire for f in reversed(self._files.values())]
        start = int(token) if token and token.isdigit() else 0
        page = files[start : start + size]
        more = start + size < len(files)
        return FileList(files=page, next_page_token=str(start + size) if more else None)

    def delete(self, name: str) -> None:
        stored = self.get(name)
        del self._files[name]
        stored.path.unlink(missing_ok=True)

    def snapshot(self) -> list[FileResource]:
        return [msgspec.structs.replace(f.wire) for f in self._files.values()]

    def discard_sessions(self) -> None:
        for session in self._sessions.values():
            session.path.unlink(missing_ok=True)
        self._sessions.clear()


def _file_metadata(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ApiError(400, "Invalid JSON payload received in the upload start.") from None
    file = body.get("file") if isinstance(body, dict) else None
    return file if isinstance(file, dict) else {}


def _status(state: str, received: int) -> web.Response:
    return web.Response(
        status=200,
        headers={"x-goog-upload-status": state, "x-goog-upload-size-received": str(received)},
    )
