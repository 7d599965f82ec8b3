"""X's twitter-text v3 weighted length (URLs count 23, CJK and emoji 2), and text hashing.

`twitter-text-parser` implements the reference algorithm with config version 3; Herald
only adds configurable limits (accounts with longer posts) and a normalized hash for
the duplicate-content check.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

DEFAULT_LIMIT = 280


def _options(limit: int) -> dict[str, Any]:
    from twitter_text.config import config

    return {**config["version3"], "max_weighted_tweet_length": limit}


def weighted_length(text: str) -> int:
    """The length X counts for `text` under twitter-text config v3."""
    from twitter_text import parse_tweet

    return int(parse_tweet(text, _options(DEFAULT_LIMIT)).weightedLength)


def is_valid_tweet(text: str, limit: int = DEFAULT_LIMIT) -> bool:
    """Not empty, no invalid characters, and within `limit` weighted characters."""
    from twitter_text import parse_tweet

    if not text or not text.strip():
        return False
    return bool(parse_tweet(text, _options(limit)).valid)


def validate_tweet(text: str, limit: int = DEFAULT_LIMIT) -> str | None:
    """A message for a person if `text` cannot be posted, else None."""
    from twitter_text.has_invalid_characters import has_invalid_characters

    if not text or not text.strip():
        return "the post is empty"
    if has_invalid_characters(text):
        return "the post contains characters X does not accept"
    length = weighted_length(text)
    if length > limit:
        return f"the post is {length} characters as X counts them; the limit is {limit}"
    return None


_URL = re.compile(r"https?://\S+", re.I)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """What X compares for duplicates, roughly: case, spacing and Unicode form folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip()


def content_hash(parts: list[str] | str) -> str:
    items = [parts] if isinstance(parts, str) else parts
    joined = "\u241e".join(normalize(p) for p in items)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def has_url(text: str) -> bool:
    from twitter_text.extract_urls import extract_urls

    return bool(_URL.search(text)) or bool(extract_urls(text))
