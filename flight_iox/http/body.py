"""Read a request body within the size limit, decompressing gzip safely."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from flight_iox.errors import InvalidBodyError, PayloadTooLargeError


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"request body is larger than the limit of {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The (decompressed) body, or 413 past ``limit`` bytes, or 400 for bad gzip."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise InvalidBodyError(f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    return gunzip(body, limit)


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, never inflating past ``limit`` bytes (zip bombs get 413)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        data += inflater.flush()
    except zlib.error as error:
        raise InvalidBodyError(f"request body is not valid gzip: {error}") from None
    if not inflater.eof:
        raise InvalidBodyError("request body is not valid gzip: the stream is truncated")
    if len(data) > limit:
        raise _too_large(limit)
    return data
