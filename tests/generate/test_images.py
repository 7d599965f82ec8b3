"""Images: format, size in pixels and bytes, both layouts, and the chart."""

from __future__ import annotations

import io

from PIL import Image

from shared.generate.brief import ImageSettings
from shared.generate.drafting import Chart
from shared.generate.images import MAX_BYTES, render, render_card


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_card_is_a_png_of_the_chosen_size_well_under_x_limit() -> None:
    for size, dims in (("landscape", (1600, 900)), ("square", (1080, 1080))):
        data = render_card(
            "Why Lightning payments settle in seconds, and what that means for fees " * 2,
            ImageSettings(enabled=True, size=size, brand_text="Sats Daily"),
        )
        image = _open(data)
        assert image.format == "PNG" and image.size == dims
        assert len(data) < MAX_BYTES / 10
        # The palette is used: background at the corner, accent somewhere.
        assert image.getpixel((2, 2)) == (15, 23, 42)
        assert (245, 158, 11) in {c for _, c in image.getcolors(maxcolors=1 << 16) or []}


def test_chart_for_data_posts_and_card_otherwise() -> None:
    chart = Chart("Median fee (sat/vB)", ("Mon", "Tue", "Wed"), (12.0, 30.0, 7.0))
    settings = ImageSettings(enabled=True, kind="auto", size="square")
    data, kind = render("Fees", chart, settings)
    assert kind == "chart" and _open(data).size == (1080, 1080) and _open(data).format == "PNG"
    data, kind = render("Fees", None, settings)
    assert kind == "card"
    data, kind = render("Fees", chart, ImageSettings(enabled=True, kind="card"))
    assert kind == "card" and _open(data).size == (1600, 900)
