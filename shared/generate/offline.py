"""The offline writer: deterministic, template-based drafts from the brief.

The default when no Gemini key is configured, so the local stack works with no network.
Every draft it writes is labelled `generator: "offline"`. The same brief, topic and
sequence number always give the same text; the sequence number (how often the topic was
used before) walks through opener x angle x keyword combinations so successive drafts
on one topic differ.
"""

from __future__ import annotations

import hashlib

from shared.generate.brief import Brief
from shared.generate.drafting import (
    Candidate,
    Slot,
    WriteContext,
    WriteResult,
    clean_hashtags,
)

# {topic}, {keyword}, {audience} are filled in; each language has the same slots.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "openers": (
            "Quick take on {topic}:",
            "New to {topic}?",
            "Why {topic} matters now:",
            "One thing about {topic} most people miss:",
            "{topic}, in one minute:",
            "A practical note on {topic}:",
            "Myth vs fact on {topic}:",
            "Where {topic} is heading:",
        ),
        "angles": (
            "start with {keyword} and the rest follows.",
            "{keyword} is the part worth understanding first.",
            "the best results come from getting {keyword} right.",
            "{keyword} changes more than you would expect.",
            "small steps with {keyword} add up fast.",
            "ask how {keyword} fits your own goals.",
            "the basics of {keyword} beat any shortcut.",
            "{keyword} is simpler than it looks, and worth a try.",
        ),
        "audience": ("Made for {audience}.", "For {audience}.", "{audience}, this one is for you."),
    },
    "fr": {
        "openers": (
            "En bref sur {topic} :",
            "Vous découvrez {topic} ?",
            "Pourquoi {topic} compte maintenant :",
            "Ce que l'on oublie souvent sur {topic} :",
            "{topic} en une minute :",
            "Un conseil pratique sur {topic} :",
            "Idée reçue sur {topic} :",
            "Où va {topic} :",
        ),
        "angles": (
            "commencez par {keyword}, le reste suit.",
            "{keyword} est la première chose à comprendre.",
            "les meilleurs résultats viennent de {keyword}.",
            "{keyword} change plus qu'on ne le pense.",
            "de petits pas avec {keyword} vont loin.",
            "demandez-vous comment {keyword} sert vos objectifs.",
            "les bases de {keyword} valent mieux qu'un raccourci.",
            "{keyword} est plus simple qu'il n'y paraît.",
        ),
        "audience": ("Pour {audience}.", "Pensé pour {audience}.", "{audience}, c'est pour vous."),
    },
}


def _pick(options: tuple[str, ...], seed: int, salt: int) -> str:
    return options[(seed // (salt or 1)) % len(options)]


class OfflineWriter:
    name = "offline"

    def write(self, brief: Brief, slots: list[Slot], ctx: WriteContext) -> WriteResult:
        return WriteResult([self._one(brief, slot) for slot in slots])

    def shorten(
        self, brief: Brief, candidate: Candidate, length: int, ctx: WriteContext
    ) -> WriteResult:
        # Templates are not re-asked: the composer's trimming does the shortening.
        return WriteResult([])

    def _one(self, brief: Brief, slot: Slot) -> Candidate:
        lang = brief.language.split("-")[0]
        t = TEMPLATES.get(lang, TEMPLATES["en"])
        digest = hashlib.sha256(f"{brief.campaign_id}|{slot.topic.key}".encode()).digest()
        base = int.from_bytes(digest[:4], "big")
        campaign = hashlib.sha256(brief.campaign_id.encode()).digest()
        base2 = int.from_bytes(campaign[:4], "big")
        n_open, n_angle = len(t["openers"]), len(t["angles"])
        # Openers walk per topic, angles and keywords per campaign: eight consecutive
        # drafts of a campaign never share an angle, whatever their topics.
        opener = t["openers"][(base + slot.seq) % n_open]
        angle = t["angles"][(base2 + slot.n + slot.n // n_angle) % n_angle]
        keywords = [k for k in brief.keywords if k.lower() != slot.topic.name.lower()]
        keyword = keywords[(slot.n + slot.seq) % len(keywords)] if keywords else slot.topic.name
        parts = [
            opener.format(topic=slot.topic.name),
            angle.format(keyword=keyword),
        ]
        if opener.endswith(("?", ".", "!")):
            parts[1] = parts[1][0].upper() + parts[1][1:]
        if brief.audience and slot.seq % 3 == 0:  # not in every post: it reads as filler
            aud = t["audience"][(base + slot.seq) % len(t["audience"])]
            line = aud.format(audience=brief.audience)
            parts.append(line[0].upper() + line[1:])
        if brief.call_to_action:
            parts.append(brief.call_to_action)
        if brief.links:
            parts.append(brief.links[(base + slot.seq) % len(brief.links)])
        topic_tag = "#" + "".join(w[:1].upper() + w[1:] for w in slot.topic.name.split())
        pool = [topic_tag, *brief.hashtags]
        rotated = pool[:1] + pool[1:][slot.seq % max(1, len(pool) - 1) :] + pool[1:]
        return Candidate(
            topic_key=slot.topic.key,
            body=" ".join(parts),
            hashtags=clean_hashtags(rotated, brief.hashtags_per_post),
            headline=opener.format(topic=slot.topic.name).rstrip(":?").strip(),
        )
