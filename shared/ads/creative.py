"""Ad creative built from a job opening, within each platform's length limits.

Meta link ads: headline (name), primary text (message), description, link, picture.
Google responsive search ads: 3-15 headlines of at most 30 characters and 2-4
descriptions of at most 90. User-supplied text wins over the template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError

if TYPE_CHECKING:
    from shared.runtime import Runtime

HEADLINE_MAX = 30
DESCRIPTION_MAX = 90
META_HEADLINE_MAX = 255
PRIMARY_MAX = 2000


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return (cut or text[: limit - 1]).rstrip(",.;:-") + "…"


def salary_text(opening: dict[str, Any]) -> str | None:
    lo, hi, cur = (
        opening.get("salary_min"),
        opening.get("salary_max"),
        opening.get("salary_currency"),
    )
    if cur is None or (lo is None and hi is None):
        return None
    period = f"/{opening['salary_period']}" if opening.get("salary_period") else ""

    def fmt(v: Any) -> str:
        return f"{v / 1000:g}k" if v >= 10000 else f"{v:g}"

    if lo is not None and hi is not None:
        return f"{fmt(lo)}-{fmt(hi)} {cur}{period}"
    if lo is not None:
        return f"from {fmt(lo)} {cur}{period}"
    return f"up to {fmt(hi)} {cur}{period}"


def place(opening: dict[str, Any]) -> str:
    loc = opening.get("location") or {}
    if loc.get("remote"):
        return "Remote"
    return ", ".join(p for p in (loc.get("city"), loc.get("region"), loc.get("country")) if p)


def from_opening(opening: dict[str, Any], override: dict[str, Any] | None = None) -> dict[str, Any]:
    title, company = opening["title"], opening["company"]
    salary = salary_text(opening)
    where = place(opening)
    intro = f"{company} is hiring: {title}" + (f" in {where}" if where else "") + "."
    body = opening.get("description") or ""
    primary = " ".join(p for p in (intro, f"Pay: {salary}." if salary else "", body) if p)
    city = opening["location"].get("city")
    headlines = [title, f"Join {company}", "Apply Today"]
    headlines += [f"Pay {salary}"] if salary else []
    headlines += [f"Jobs in {city}"] if city else []
    descriptions = [intro, f"See the role and apply online in minutes. {salary or ''}".strip()]
    creative: dict[str, Any] = {
        "headline": shorten(title, META_HEADLINE_MAX),
        "primary_text": shorten(primary, PRIMARY_MAX),
        "description": shorten(salary or where or company, 200),
        "headlines": [shorten(h, HEADLINE_MAX) for h in headlines],
        "descriptions": [shorten(d, DESCRIPTION_MAX) for d in descriptions],
        "link_url": opening["apply_url"],
        "image_url": None,
        "source": "template",
    }
    if override:
        creative.update(check_override(override))
        creative["source"] = "edited"
    return creative


def check_override(override: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "headline", "primary_text", "description", "headlines", "descriptions", "image_url",
        "generate_image", "generate_text",
    }  # fmt: skip
    unknown = set(override) - allowed
    if unknown:
        raise ValidationError(f"unknown creative field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, limit in (
        ("headline", META_HEADLINE_MAX),
        ("primary_text", PRIMARY_MAX),
        ("description", 200),
    ):
        if key in override:
            text = str(override[key] or "").strip()
            if not text or len(text) > limit:
                raise ValidationError(f"creative.{key} must be 1-{limit} characters")
            out[key] = text
    for key, limit, lo, hi in (
        ("headlines", HEADLINE_MAX, 3, 15),
        ("descriptions", DESCRIPTION_MAX, 2, 4),
    ):
        if key in override:
            items = [str(t).strip() for t in override[key] or [] if str(t).strip()]
            if not lo <= len(items) <= hi or any(len(t) > limit for t in items):
                raise ValidationError(
                    f"creative.{key} needs {lo}-{hi} texts of at most {limit} characters "
                    "(Google responsive search ads)"
                )
            out[key] = items
    for flag in ("generate_image", "generate_text"):
        if flag in override:
            out[flag] = bool(override[flag])
    if "image_url" in override:
        url = override["image_url"]
        if url is not None and not str(url).startswith(("https://", "http://")):
            raise ValidationError("creative.image_url must be an http(s) address")
        out["image_url"] = url
    return out


def render_image(opening: dict[str, Any]) -> bytes:
    """A square headline card for the ad, drawn by the generation pipeline's renderer."""
    from shared.generate.brief import ImageSettings
    from shared.generate.images import render_card

    settings = ImageSettings(
        enabled=True, kind="card", size="square", brand_text=opening["company"]
    )
    salary = salary_text(opening)
    headline = f"{opening['title']} · {place(opening) or opening['company']}"
    return render_card(headline + (f" · {salary}" if salary else ""), settings)


def generate_text(runtime: Runtime, workspace_id: str, opening: dict[str, Any]) -> dict[str, Any]:
    """Ad copy from the generation pipeline's writer (Gemini when configured, else offline).

    The writer's text leads; the template's facts (role, place, pay) follow, so a
    generated line never drops what a job ad must say. Returns creative fields.
    """
    from shared.generate.brief import Brief, Topic
    from shared.generate.drafting import Slot, WriteContext
    from shared.generate.service import choose_writer

    topic = Topic(opening["title"])
    brief = Brief(
        campaign_id=opening["id"],
        workspace_id=workspace_id,
        name=f"{opening['title']} at {opening['company']}",
        description=opening.get("description") or "",
        keywords=(opening["title"], opening["company"]),
        audience="job seekers",
        tone="warm, concrete and professional",
        call_to_action="Apply now.",
        topics=(topic,),
        hashtags_per_post=0,
    )
    writer = choose_writer(runtime)
    result = writer.write(brief, [Slot(topic, 0)], WriteContext(limit=500))
    if not result.candidates:
        raise ValueError("the writer returned no text")
    cand = result.candidates[0]
    facts = from_opening(opening)["primary_text"]
    out: dict[str, Any] = {
        "primary_text": shorten(f"{cand.body}\n\n{facts}", PRIMARY_MAX),
        "source": f"generated text ({writer.name})",
    }
    if cand.headline:
        out["headline"] = shorten(cand.headline, META_HEADLINE_MAX)
    return out
