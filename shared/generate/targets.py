"""The accounts a generation writes for, and what "fits" means for all of them at once.

One account: its network's length and limit (X: twitter-text's weighted length). Several
channels (the campaign's account and the others the drafts also go to): a text fits when
it fits every network as that network counts it, so the strictest one decides; the
writer is told the smallest limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.channels.rules import length, rules_for, text_problem


@dataclass(frozen=True)
class Targets:
    accounts: Sequence[dict[str, Any]]

    @property
    def limit(self) -> int:
        """The smallest limit among the networks (what the writer is asked to fit)."""
        return min(rules_for(a).limit for a in self.accounts)

    def overshoot(self, text: str) -> int:
        """How far the text is past the strictest network's limit (≤ 0: it fits all)."""
        return max(length(a, text) - rules_for(a).limit for a in self.accounts)

    def fits(self, text: str) -> bool:
        return self.overshoot(text) <= 0

    def length(self, text: str) -> int:
        """The text's length as the writer's limit counts it (what a re-ask quotes)."""
        return self.limit + self.overshoot(text)

    def problem(self, text: str) -> str | None:
        """A network that would refuse the text, with its reason (None: all take it)."""
        for account in self.accounts:
            problem = text_problem(account, text)
            if problem:
                return problem if len(self.accounts) == 1 else f"{account['handle']}: {problem}"
        return None
