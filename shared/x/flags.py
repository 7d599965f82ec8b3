"""An account's status as its provider leaves it: flagged (revoked, suspended,
reconnect_needed) with the provider's reason when a credential lineage is lost, active
again when it is reconnected. Each change drops the process's cached copy of the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from shared.x import cache
from shared.x.models import X_ACCOUNTS, AccountStatus, XAccount

if TYPE_CHECKING:
    from shared.lineage import Refused
    from shared.runtime import Runtime


@dataclass
class AccountSource:
    """An account's side of its credential lineage (shared.lineage.Source) but `renew`:
    a loss flags the account with the provider's reason, in the transaction that records
    the loss; each network's `announce` raises its alert (its type written where it is
    raised: tests/infra matches every type to a policy) with what `flagged` gives."""

    network: ClassVar[str]  # as people read it: "X", "Bluesky"

    runtime: Runtime
    account: XAccount

    @property
    def workspace_id(self) -> str:
        return self.account.workspace_id

    @property
    def account_id(self) -> str:
        return self.account.id

    def flag(self, transaction: Any, refused: Refused) -> None:
        transaction.update(
            self.runtime.db.collection(X_ACCOUNTS).document(self.account.id),
            {
                "status": refused.status or AccountStatus.REVOKED.value,
                "status_reason": refused.reason,
                "updated_at": self.runtime.clock.now(),
            },
        )

    def deferred(self, until: datetime) -> Exception:
        from shared.channels.outcomes import RateLimited

        return RateLimited(
            f"{self.network} asked to wait before @{self.account.handle}'s credentials are "
            "renewed again",
            until,
        )

    def flagged(self, refused: Refused) -> tuple[str, dict[str, Any]]:
        """After the loss is recorded: the process forgets the account; the alert's
        message and fields."""
        cache.invalidate(self.runtime, self.account.id)
        message = f"{self.network} account @{self.account.handle} is {refused.status}: "
        fields = {
            "account_id": self.account.id,
            "workspace_id": self.account.workspace_id,
            "handle": self.account.handle,
        }
        return message + refused.reason, fields


def reactivate(runtime: Runtime, account: XAccount, changes: dict[str, Any]) -> None:
    """A reconnected account: `changes` and active again, here and in `account`."""
    changes = changes | {
        "status": AccountStatus.ACTIVE.value,
        "status_reason": None,
        "updated_at": runtime.clock.now(),
    }
    runtime.db.collection(X_ACCOUNTS).document(account.id).update(changes)
    cache.invalidate(runtime, account.id)
    for key, value in changes.items():
        setattr(account, key, value)
