"""Post images: a branded card (Pillow) or a chart for data posts (matplotlib, Agg).

PNG, 1600x900 or 1080x1080: X accepts PNG up to 5 MB and these flat designs stay
around 50-150 KB. Fonts: DejaVu from Debian's fonts-dejavu-core when installed (no font
is bundled with Herald), else Pillow's built-in scalable default font.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.generate.brief import ImageSettings
from shared.generate.drafting import Chart

MAX_BYTES = 5 * 1024 * 1024  # X's limit for images
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont

    path = DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def _wrap(draw: Any, text: str, fnt: Any, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=fnt) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def render_card(headline: str, settings: ImageSettings) -> bytes:
    """A headline card: accent bar, the headline as large as fits, the brand at the foot."""
    from PIL import Image, ImageDraw

    width, height = settings.dimensions
    bg, fg, accent = (_rgb(c) for c in settings.palette)
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    margin = width // 12
    draw.rectangle((margin, margin, margin + width // 8, margin + height // 60), fill=accent)
    box_w, box_h = width - 2 * margin, int(height * 0.58)
    # The largest size at which the wrapped headline fits the box.
    size, lines = height // 7, [headline]
    while size > 18:
        fnt = font(size, bold=True)
        lines = _wrap(draw, headline, fnt, box_w)
        if len(lines) * int(size * 1.2) <= box_h and all(
            draw.textlength(line, font=fnt) <= box_w for line in lines
        ):
            break
        size -= 4
    fnt = font(size, bold=True)
    y = margin + height // 60 + height // 14
    for line in lines:
        draw.text((margin, y), line, font=fnt, fill=fg)
        y += int(size * 1.2)
    if settings.brand_text:
        brand = font(max(20, height // 28))
        draw.text(
            (margin, height - margin), settings.brand_text, font=brand, fill=accent, anchor="ls"
        )
    return _png(image)


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_BYTES:  # flat designs never get close; guard anyway
        raise ValueError(f"rendered image is {len(data)} bytes, over X's 5 MB limit")
    return data


def render_chart(chart: Chart, settings: ImageSettings) -> bytes:
    """A bar chart of one series in the brand palette."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    from matplotlib.figure import Figure

    width, height = settings.dimensions
    dpi = 100
    bg, fg, accent = settings.palette
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=bg)
    ax = fig.add_subplot()
    ax.set_facecolor(bg)
    ax.bar(list(chart.labels), list(chart.values), color=accent)
    ax.set_title(chart.title, color=fg, fontsize=28, pad=24, loc="left")
    ax.tick_params(colors=fg, labelsize=16)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    for spine in ("left", "bottom"):
        ax.spines[spine].set_color(fg)
    if settings.brand_text:
        fig.text(0.02, 0.02, settings.brand_text, color=accent, fontsize=16)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    out = io.BytesIO()
    # No bbox_inches="tight": it would change the pixel size X displays.
    fig.savefig(out, format="png", dpi=dpi, facecolor=bg)
    data = out.getvalue()
    if len(data) > MAX_BYTES:
        raise ValueError(f"rendered chart is {len(data)} bytes, over X's 5 MB limit")
    return data


def render(headline: str, chart: Chart | None, settings: ImageSettings) -> tuple[bytes, str]:
    """The image for one draft and its kind ("card" or "chart")."""
    if chart is not None and settings.kind in ("chart", "auto"):
        return render_chart(chart, settings), "chart"
    return render_card(headline, settings), "card"
