"""The ads service for the API: `(runtime, workspace_id, ...)` -> plain dicts.

Campaign lifecycle: create (draft) -> publish -> scheduled/publishing -> active;
pause / resume / archive are applied to every platform by the publish_ads worker.
Platform credentials: set_credentials stores them in the secrets store (only the
reference in Firestore); list_accounts says which platforms are connected.
"""

from __future__ import annotations

from shared.ads.accounts import list_accounts, remove_credentials, set_credentials
from shared.ads.campaigns import (
    archive_campaign,
    create_campaign,
    delete_campaign,
    get_campaign,
    list_campaigns,
    pause_campaign,
    performance,
    publish_campaign,
    resume_campaign,
    update_campaign,
)
from shared.ads.targeting import check_targeting

__all__ = [
    "archive_campaign",
    "check_targeting",
    "create_campaign",
    "delete_campaign",
    "get_campaign",
    "list_accounts",
    "list_campaigns",
    "pause_campaign",
    "performance",
    "publish_campaign",
    "remove_credentials",
    "resume_campaign",
    "set_credentials",
    "update_campaign",
]
