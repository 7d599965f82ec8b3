"""Ad platform credentials per workspace.

`ad_accounts/{workspace_id}__{platform}`: workspace_id, platform (meta | google),
account_id (Meta ad account id without "act_", or Google customer id, digits only),
page_id (Meta: the Facebook Page the ads run as), login_customer_id (Google manager
account, optional), secret_ref, updated_at. The credentials themselves (Meta access
token; Google developer token, OAuth client id/secret and refresh token) are one JSON
secret in the secrets store; Firestore keeps only the reference.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound, ValidationError
from shared.jobs.store import public
from shared.secrets import user_secret_name

if TYPE_CHECKING:
    from shared.runtime import Runtime

ACCOUNTS = "ad_accounts"
PLATFORMS = ("meta", "google")
_DIGITS = re.compile(r"^\d{4,20}$")
SECRET_FIELDS = {
    "meta": ("access_token",),
    "google": ("developer_token", "client_id", "client_secret", "refresh_token"),
}


def account_doc_id(workspace_id: str, platform: str) -> str:
    return f"{workspace_id}__{platform}"


def _digits(value: Any, field: str) -> str:
    text = str(value or "").strip().removeprefix("act_").replace("-", "")
    if not _DIGITS.match(text):
        raise ValidationError(f"{field} must be the numeric account id", {"field": field})
    return text


def set_credentials(
    runtime: Runtime, workspace_id: str, platform: str, body: dict[str, Any]
) -> dict[str, Any]:
    if platform not in PLATFORMS:
        raise ValidationError(f"platform must be one of {', '.join(PLATFORMS)}")
    secret: dict[str, str] = {}
    for name in SECRET_FIELDS[platform]:
        value = str(body.get(name) or "").strip()
        if not value:
            raise ValidationError(f"{name} is required for {platform}", {"field": name})
        secret[name] = value
    doc: dict[str, Any] = {
        "workspace_id": workspace_id,
        "platform": platform,
        "account_id": _digits(body.get("account_id"), "account_id"),
        "updated_at": runtime.clock.now(),
    }
    if platform == "meta":
        doc["page_id"] = _digits(body.get("page_id"), "page_id")
    elif body.get("login_customer_id"):
        doc["login_customer_id"] = _digits(body["login_customer_id"], "login_customer_id")
    doc["secret_ref"] = runtime.secrets.put(
        user_secret_name(workspace_id, f"ads-{platform}", "credentials"), json.dumps(secret)
    )
    runtime.db.collection(ACCOUNTS).document(account_doc_id(workspace_id, platform)).set(doc)
    return public({**doc, "connected": True})


def get_account(runtime: Runtime, workspace_id: str, platform: str) -> dict[str, Any] | None:
    snap = runtime.db.collection(ACCOUNTS).document(account_doc_id(workspace_id, platform)).get()
    if not snap.exists:
        return None
    data: dict[str, Any] = snap.to_dict()
    return data if data.get("workspace_id") == workspace_id else None


def load_credentials(runtime: Runtime, account: dict[str, Any]) -> dict[str, str]:
    creds: dict[str, str] = json.loads(runtime.secrets.get(account["secret_ref"]))
    return creds


def list_accounts(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    """Which platforms are connected (never the credentials)."""
    out = []
    for platform in PLATFORMS:
        acc = get_account(runtime, workspace_id, platform)
        out.append(
            {"platform": platform, "connected": acc is not None}
            | ({"account_id": acc["account_id"]} if acc else {})
        )
    return out


def remove_credentials(runtime: Runtime, workspace_id: str, platform: str) -> None:
    acc = get_account(runtime, workspace_id, platform)
    if acc is None:
        raise NotFound(f"no {platform} account is connected")
    runtime.secrets.delete(acc["secret_ref"])
    runtime.db.collection(ACCOUNTS).document(account_doc_id(workspace_id, platform)).delete()
