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
