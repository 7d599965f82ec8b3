"""The prompt: the brief, the topics to write about, the rules X imposes, and context."""

from __future__ import annotations

from shared.generate.brief import Brief
from shared.generate.drafting import Candidate, Slot, WriteContext

LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "pt": "Portuguese"}
MAX_RECENT_IN_PROMPT = 15


def system_instruction(brief: Brief) -> str:
    language = LANGUAGES.get(brief.language.split("-")[0], brief.language)
    return (
        "You write posts for X (Twitter) for one brand. Write in "
        f"{language}. Tone: {brief.tone}. Each post stands alone, says one thing "
        "concretely, and sounds like a person, not an advertisement. No invented facts, "
        "prices or statistics; only chart figures the brief provides. Answer only with "
        "JSON that matches the response schema."
    )


def _brief_lines(brief: Brief, ctx: WriteContext) -> list[str]:
    lines = [f"Campaign: {brief.name}"]
    if brief.description:
        lines.append(f"Brief: {brief.description}")
    if brief.audience:
        lines.append(f"Target audience: {brief.audience}")
    if brief.keywords:
        lines.append(f"Keywords: {', '.join(brief.keywords)}")
    if brief.call_to_action:
        lines.append(f"Call to action (use it in most posts): {brief.call_to_action}")
    if brief.links:
        lines.append(f"Links (include one where it fits, unchanged): {' '.join(brief.links)}")
    if brief.hashtags:
        lines.append(f"Brand hashtags: {' '.join(brief.hashtags)}")
    if ctx.trends:
        lines.append(
            "Trending now in the account's region (use one only if it truly fits): "
            + ", ".join(ctx.trends[:20])
        )
    return lines


def _rules(brief: Brief, ctx: WriteContext) -> list[str]:
    n = brief.hashtags_per_post
    tags = "no hashtags" if n == 0 else f"exactly {n} hashtag{'s' if n > 1 else ''}"
    return [
        f"Length: the post text plus its hashtags must fit {ctx.limit} weighted characters "
        f"({ctx.counting}). Aim well below.",
        f"Hashtags: {tags} per post, in the hashtags field, not inside the text.",
    ]


def build_prompt(brief: Brief, slots: list[Slot], ctx: WriteContext) -> str:
    lines = _brief_lines(brief, ctx)
    lines.append("")
    lines.append(f"Write {len(slots)} posts, one per line below, in this order:")
    for i, slot in enumerate(slots, 1):
        lines.append(f"{i}. topic key {slot.topic.key!r}: {slot.topic.name}")
    lines.append("")
    lines.extend(_rules(brief, ctx))
    if brief.image.enabled and brief.image.kind in ("chart", "auto"):
        lines.append(
            "If a post is about figures given in the brief, fill chart with them; "
            "otherwise leave chart empty."
        )
    if ctx.recent:
        lines.append("")
        lines.append("Recent posts: do not repeat their wording or angle:")
        lines.extend(f"- {t.replace(chr(10), ' ')}" for t in ctx.recent[:MAX_RECENT_IN_PROMPT])
    return "\n".join(lines)


def shorten_prompt(brief: Brief, candidate: Candidate, length: int, ctx: WriteContext) -> str:
    lines = _brief_lines(brief, ctx)
    lines += [
        "",
        f"This post is {length} weighted characters with its hashtags; the limit is "
        f"{ctx.limit}. Rewrite it shorter, same message, keep any link unchanged.",
        f"topic key {candidate.topic_key!r}",
        f"text: {candidate.body}",
        f"hashtags: {' '.join(candidate.hashtags)}",
        "",
        *_rules(brief, ctx),
    ]
    return "\n".join(lines)
