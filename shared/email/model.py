"""Collection names, ids and address helpers shared by the email modules.

Every collection is flat and top level with a `workspace_id` field (see shared.firestore).
Ids that must be unique per workspace (contacts, suppressions) are derived from the
normalized address, so dedupe needs no query and a re-import updates in place.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

SETTINGS = "email_settings"  # {workspace_id}
CONTACTS = "contacts"  # {workspace_id}__{hash(email)}
CONTACT_LISTS = "contact_lists"
CONTACT_IMPORTS = "contact_imports"
TEMPLATES = "email_templates"
CAMPAIGNS = "email_campaigns"
BATCHES = "email_batches"  # {campaign_id}__{seq} (retries: __r{n}, resends: __s{n}_{k})
SUPPRESSIONS = "email_suppressions"  # {workspace_id}__{hash(email)}
EVENTS = "email_events"  # flat engagement events, id = dedupe key
# Raw events expire through a Firestore TTL policy on `expires_at` (infra/firestore.tf);
# the metrics rollups keep their counts, so dashboards outlive the events.
EVENT_RETENTION = timedelta(days=400)
# Every new event carries this flag until the metrics fold has counted it (once: see
# shared.metrics.email_rollups); writers set it, only the fold clears it.
FOLD_PENDING = "fold_pending"
ENGAGEMENT = "email_engagement"  # {campaign_id}__{recipient_id}: opens/clicks per recipient
QUOTAS = "email_quotas"  # {workspace_id}: sliding-window reservations per minute
PACE = "email_pace"  # {workspace_id}: the adaptive rate after deferrals (shared.email.pace)
# {workspace_id}: DKIM, bounce mailbox, webhooks, warm-up, soft-bounce limit, guard state
DELIVERABILITY = "email_deliverability"
SOFT_BOUNCES = "email_soft_bounces"  # {workspace_id}__{hash}: an address's soft-bounce streak

# Fields that grow with the data and are only ever read whole, never queried: infra/
# exempts them from single-field indexing (each map key or array element would otherwise
# be an index entry: write cost, and Firestore's 40,000 entries per document).
# tests/infra checks infra/firestore.tf against every UNINDEXED_FIELDS in shared/.
UNINDEXED_FIELDS = {
    CONTACTS: ("fields",),  # custom fields
    CONTACT_IMPORTS: ("report",),  # the first rejected rows
    CAMPAIGNS: ("expand_carry",),  # recipients not yet in a batch, per send instant
    BATCHES: ("recipients", "outcomes", "inflight"),
    EVENTS: ("recipient_ids",),  # a batch's `sent` / `failed` event
    QUOTAS: ("minutes",),  # up to 1,440 minute -> emails reserved
}

# A finished batch's tally, as top-level numeric fields on the batch document (summed by
# one aggregation query for a campaign's progress): counter name -> field. `deferred` is
# the change in recipients awaiting a retry (a retry batch settles its own recipients);
# `batches_done` is 1 for a main or resend batch, 0 for a retry.
TALLY_FIELDS = {
    "sent": "n_sent",
    "failed": "n_failed",
    "deferred": "n_deferred",
    "suppressed": "n_suppressed",
    "unconfirmed": "n_unconfirmed",
    "cancelled": "n_cancelled",
    "batches_done": "n_batches_done",
}

# Firestore `in` accepts at most 30 values per query.
IN_LIMIT = 30

# RFC 6531: a local part may hold UTF-8 beyond ASCII (sent only over SMTPUTF8); not
# controls, spaces or separators of any script.
_LOCAL = re.compile(r"^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]|[^\x00-\x9f\s\u2028\u2029])+$")
# The same rules as one expression, for ASCII addresses (nearly all; an import checks
# every row): ~1 µs where the checks one by one took ~10.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LDH = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # a domain label
_LABEL = re.compile(rf"^{_LDH}$")
_ASCII_ADDRESS = re.compile(rf"(?=[^@]{{1,64}}@){_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LDH}\.)+{_LDH}")


def normalize_email(raw: str) -> str:
    """Lower-case, trimmed address; the key for dedupe and suppression."""
    return raw.strip().lower()


def valid_email(address: str) -> bool:
    """A deliverable-looking addr-spec: one @, dot-atom local part (UTF-8 allowed,
    RFC 6531), a domain with a dot.

    Stricter than RFC 5322 on purpose (no quoted local parts, no comments, LDH domain
    labels): an address that passes is safe in an SMTP envelope and in a header.
    """
    if address.isascii():
        return len(address) <= 254 and _ASCII_ADDRESS.fullmatch(address) is not None
    return _valid_email_checks(address)


def _valid_email_checks(address: str) -> bool:
    """valid_email one check at a time; the domain may be internationalized (IDNA)."""
    if not address or len(address) > 254 or any(c.isspace() for c in address):
        return False
    local, sep, domain = address.rpartition("@")
    if not sep or not local or len(local.encode()) > 64 or not _LOCAL.match(local):
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA form, for the envelope and the To header."""
    local, _, domain = address.strip().rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def email_hash(email_norm: str) -> str:
    return hashlib.sha256(email_norm.encode()).hexdigest()[:32]


def contact_id(workspace_id: str, email_norm: str) -> str:
    return f"{workspace_id}__{email_hash(email_norm)}"


def suppression_id(workspace_id: str, email_norm: str) -> str:
    return f"{workspace_id}__{email_hash(email_norm)}"


def batch_id(campaign_id: str, seq: int) -> str:
    return f"{campaign_id}__{seq:06d}"


def public(doc_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A document as the API returns it: its id plus plain JSON-able values."""
    out: dict[str, Any] = {"id": doc_id}
    for key, value in data.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out
