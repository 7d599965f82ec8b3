"""Small real images for tests (the media store decodes and re-encodes every upload)."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (4, 3), **save: object) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt == "JPEG" else "RGBA"
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 255)).save(
        out, format=fmt, **save
    )
    return out.getvalue()


def png(size: tuple[int, int] = (4, 3)) -> bytes:
    return image_bytes("PNG", size)


def gif() -> bytes:
    return image_bytes("GIF")


def mp4(size: int = 4096, brand: bytes = b"mp42") -> bytes:
    """A well-formed ISO media file of exactly `size` bytes: ftyp, moov, mdat (nothing
    here decodes frames; the store checks the container)."""
    ftyp = (24).to_bytes(4, "big") + b"ftyp" + brand + bytes(4) + b"mp42isom"
    moov = (16).to_bytes(4, "big") + b"moov" + bytes(8)
    rest = size - len(ftyp) - len(moov)
    assert rest >= 8
    return ftyp + moov + rest.to_bytes(4, "big") + b"mdat" + b"v" * (rest - 8)
