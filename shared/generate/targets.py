"""The accounts a generation writes for, and what "fits" means for all of them at once.

One account: its network's length and limit (X: twitter-text's weighted length). Several
channels (the campaign's account and the others the drafts also go to): a text fits when
it fits every network as that network counts it, so the strictest one decides; the
writer is told the smallest limit.

`channel_accounts` picks the other accounts a generation writes for: the caller's
choice (each must be able to post) or the campaign's channels, skipping with a reason
those that cannot post any more (disconnected, revoked, gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.channels.base import Network
from shared.channels.rules import length, rules_for, text_problem
from shared.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from shared.runtime import Runtime


def channel_accounts(
    runtime: Runtime, workspace_id: str, main_id: str, ids: Sequence[str], *, explicit: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the accounts to write for besides the main one, the skipped ones with why).

    `explicit`: the caller chose these ids, so one that cannot post is an error; else
    they are the campaign's channels and such a one is skipped."""
    from shared.x import service as xs

    chosen: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for account_id in dict.fromkeys(ids):
        if account_id == main_id:
            continue
        try:
            account = xs.get_account(runtime, workspace_id, account_id)
        except NotFound:
            if explicit:
                raise
            skipped.append({"account_id": account_id, "reason": "the account no longer exists"})
            continue
        status = account.get("status")
        if status != "active":
            reason = f"@{account['handle']} is {status}: reconnect it in Settings"
            if explicit:
                raise ValidationError(reason, {"channels": account_id})
            skipped.append(
                {
                    "account_id": account_id,
                    "handle": account["handle"],
                    "network": account.get("network") or "x",
                    "reason": reason,
                }
            )
            continue
        chosen.append(account)
    return chosen, skipped


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

    @property
    def counting(self) -> str:
        """How each network counts, for the writer's prompt (the strictest one is told
        as `limit`; a long link can still make Bluesky the one that decides)."""
        said: dict[str, str] = {}
        for account in self.accounts:
            rules = rules_for(account)
            if rules.network == Network.BLUESKY:
                said.setdefault(
                    "bluesky",
                    f"Bluesky allows {rules.limit} and counts every "
                    "character of a link, an emoji as 1",
                )
            elif rules.network == Network.MASTODON:
                url = int((account.get("limits") or {}).get("url_length") or 23)
                said.setdefault(
                    "mastodon", f"Mastodon allows {rules.limit} and counts every link as {url}"
                )
            else:
                said.setdefault("x", "X counts every link as 23, emoji and CJK characters as 2")
        return "; ".join(said.values())

    def problem(self, text: str) -> str | None:
        """A network that would refuse the text, with its reason (None: all take it)."""
        for account in self.accounts:
            problem = text_problem(account, text)
            if problem:
                return problem if len(self.accounts) == 1 else f"{account['handle']}: {problem}"
        return None
