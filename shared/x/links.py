""" "Link in first reply": keep URLs out of a thread's main post.

X shows a post with a link to fewer people, and bills it at the higher rate; with
`link_in_reply` the main post goes out without its links and a reply right under it
carries them. The links are found as X finds them (twitter-text's extractor, plus any
explicit http(s):// URL), so what is moved is what X would have linked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.x.models import Post

_HTTP = re.compile(r"https?://\S+", re.I)
_SPACES = re.compile(r"[ \t]{2,}")
_DANGLING = re.compile(r"[ \t]+([.,;:!?])")


def split_links(text: str) -> tuple[str, list[str]]:
    """The text without its URLs, and the URLs in order."""
    from twitter_text.extract_urls import extract_urls_with_indices

    spans = [(m.start(), m.end()) for m in _HTTP.finditer(text)]
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        if not any(s <= start < e for s, e in spans):
            spans.append((start, end))
    if not spans:
        return text, []
    spans.sort()
    urls = [text[s:e] for s, e in spans]
    kept, at = [], 0
    for start, end in spans:
        kept.append(text[at:start])
        at = end
    kept.append(text[at:])
    rest = _DANGLING.sub(r"\1", _SPACES.sub(" ", "".join(kept)))
    return "\n".join(line.rstrip() for line in rest.splitlines()).strip(), urls


def outgoing(parts: list[str], link_in_reply: bool) -> list[str]:
    """The parts as they go to X: with `link_in_reply`, the main post's links move to a
    reply right under it."""
    if not link_in_reply or not parts:
        return list(parts)
    head, urls = split_links(parts[0])
    if not urls:
        return list(parts)
    return [head, " ".join(urls), *parts[1:]]


def outgoing_parts(post: Post) -> list[str]:
    """The post's parts as they go to X (its `x_ids` index these)."""
    return outgoing(post.parts, post.link_in_reply)
