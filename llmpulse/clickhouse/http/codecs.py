"""HTTP content encodings ClickHouse speaks (request bodies and, with ``enable_http_compression=1``,
responses): gzip, deflate, br, zstd, lz4 (frame), xz, bz2, snappy — all through cramjam."""

from __future__ import annotations

from collections.abc import Callable

import cramjam

_CODECS: dict[str, tuple[Callable[[bytes], object], Callable[[bytes], object]]] = {
    "gzip": (cramjam.gzip.compress, cramjam.gzip.decompress),
    "deflate": (cramjam.zlib.compress, cramjam.zlib.decompress),
    "br": (cramjam.brotli.compress, cramjam.brotli.decompress),
    "zstd": (cramjam.zstd.compress, cramjam.zstd.decompress),
    "lz4": (cramjam.lz4.compress, cramjam.lz4.decompress),
    "xz": (cramjam.xz.compress, cramjam.xz.decompress),
    "bz2": (cramjam.bzip2.compress, cramjam.bzip2.decompress),
    "snappy": (cramjam.snappy.compress, cramjam.snappy.decompress),
}


class UnknownEncoding(ValueError):
    pass


def decode(data: bytes, encoding: str | None) -> bytes:
    """A request body in its ``Content-Encoding``."""
    name = (encoding or "").strip().lower()
    if not name or name == "identity":
        return data
    if name not in _CODECS:
        raise UnknownEncoding(f"Unknown HTTP compression method: {encoding}")
    return bytes(_CODECS[name][1](data))  # type: ignore[call-overload]


def choose(accept_encoding: str | None) -> str | None:
    """The first encoding of ``Accept-Encoding`` that this endpoint can write."""
    for item in (accept_encoding or "").split(","):
        name = item.split(";")[0].strip().lower()
        if name in _CODECS:
            return name
    return None


def encode(data: bytes, encoding: str) -> bytes:
    return bytes(_CODECS[encoding][0](data))  # type: ignore[call-overload]
