"""Near-duplicate detection: Jaccard similarity of normalized word shingles.

Links, mentions and hashtags are dropped before comparing (the same message with a new
hashtag is still the same message), accents and case are folded. Texts too short for
shingles are compared on their words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

DEFAULT_THRESHOLD = 0.5
SHINGLE = 3
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_TAG = re.compile(r"[#@]\w+", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    text = _TAG.sub(" ", _URL.sub(" ", text))
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(folded)


def shingles(text: str, size: int = SHINGLE) -> frozenset[str]:
    words = tokens(text)
    if len(words) < size:
        return frozenset(words)
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class DuplicateIndex:
    """The recent texts a new draft is compared against; grows as drafts are accepted."""

    def __init__(
        self,
        texts: Iterable[str] = (),
        threshold: float = DEFAULT_THRESHOLD,
        boilerplate: Iterable[str] = (),
    ) -> None:
        self.threshold = threshold
        # Phrases every post of the campaign may carry (its call to action): they say
        # nothing about whether two posts repeat each other, so they are left out.
        self._boiler = [b for b in (" ".join(tokens(p)) for p in boilerplate) if b]
        self._items: list[frozenset[str]] = [self._shingles(t) for t in texts if t]

    def _shingles(self, text: str) -> frozenset[str]:
        if not self._boiler:
            return shingles(text)
        joined = " ".join(tokens(text))
        for phrase in self._boiler:
            joined = joined.replace(phrase, " ")
        return shingles(joined)

    def __len__(self) -> int:
        return len(self._items)

    def most_similar(self, text: str) -> float:
        probe = self._shingles(text)
        return max((jaccard(probe, s) for s in self._items), default=0.0)

    def is_duplicate(self, text: str) -> bool:
        return self.most_similar(text) >= self.threshold

    def add(self, text: str) -> None:
        self._items.append(self._shingles(text))
