"""The email dispatcher source: due campaigns become batches of recipients, one task each.

Per tick:
1. Campaigns `scheduled` and due within the horizon, or `sending` but not fully
   expanded, are expanded under a per-workspace lease (claim
   `email-expand:{workspace}:{gen}`): the list's member pages are read in order, recipients
   grouped by send instant (local-hour campaigns) and cut into batches of
   settings.email_batch_size (capped by the per-minute rate). Each batch is created
   with create() under a deterministic id (campaign + sequence): that create is the
   "dispatched exactly once" mark; only its winner enqueues the task, with
   `schedule_time` at the slot the sliding-window quota gives it.
2. Recovery (first, so the expansion's time budget cannot delay it): batches still
   `queued` well after their slot (the task was lost, e.g. the emulator restarted) are
   enqueued again; so are `sending` batches whose lease was not renewed for half its
   length (the worker died), with the task due when the lease ends
   (shared.email.ownership has the worst case). The worker's take makes a duplicate
   harmless.
3. Campaigns whose counters show nothing left pending become `done`.

Light on purpose: no template engine, no SMTP, no provider SDK is imported here.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import try_claim
from shared.email import members
from shared.email.campaigns import progress_of
from shared.email.import_chunks import recover_lost_chunks
from shared.email.model import (
    BATCHES,
    QUOTAS,
    SETTINGS,
    batch_id,
)
from shared.email.ownership import takeover_at
from shared.email.queue import enqueue_batch
from shared.email.quota import Limits, reserve
from shared.email.warmup import day_cap_for
from shared.firestore import is_already_exists
from shared.log import get_logger
from shared.queries import build
from shared.queries import email as q
from shared.zones import find_zone, zone_or_utc

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext
    from shared.runtime import Runtime

log = get_logger("email.dispatch")

EXPAND_BUDGET_S = 30.0  # per tick; a large campaign continues on the next tick
EXPAND_LEASE = timedelta(minutes=5)
# How long a queued batch may sit past its slot before its task is presumed lost and
# enqueued again.
RECOVERY_GRACE = timedelta(minutes=10)
# How long a campaign's expansion waits for a background import into its list.
IMPORT_WAIT = timedelta(minutes=30)
# Expansion persists its cursor, carry-over and sequence once per this many member
# pages (~1,000-4,000 members each; and whenever the tick's budget runs out): a takeover
# redoes at most these, and the batch create()s it repeats are no-ops.
SAVE_EVERY_PAGES = 32
# Batches created per commit: one round trip for ten instead of ten (~0.5 MB of
# recipients at most, well under a commit's 10 MiB).
CREATE_GROUP = 10
# create_task is a round trip each (tens of ms on Cloud Tasks): a group's go side by
# side. The executor starts its threads on first use and is kept by the warm instance.
_ENQUEUE_POOL = ThreadPoolExecutor(8, thread_name_prefix="email-enqueue")


class EmailSource:
    name = "email"

    def __init__(self) -> None:
        self._next_recovery: dict[str, datetime] = {}

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        rt = ctx.runtime
        counts = {"campaigns": 0, "batches": 0, "recipients": 0, "recovered": 0, "done": 0}
        due = list(build(rt.db, q.DUE_CAMPAIGNS, status="scheduled", le=ctx.horizon).stream())
        sending = list(build(rt.db, q.CAMPAIGNS_WITH_STATUS, status="sending").stream())
        by_ws: dict[str, list[Any]] = {}
        for doc in due + [d for d in sending if not d.get("expanded")]:
            by_ws.setdefault(doc.get("workspace_id"), []).append(doc)
        # Recovery looks twice per worker lease (every 30 s), per instance and project
        # (a fresh instance looks at once): every tick of Cloud Scheduler's minute, and
        # a fast local tick does not repeat its queries between.
        project = rt.settings.project_id
        every = timedelta(seconds=rt.settings.email_lease_s) / 2
        next_at = self._next_recovery.get(project)
        if next_at is None or not next_at - every <= ctx.now < next_at:
            self._next_recovery[project] = ctx.now + every
            counts["recovered"] = self._recover(rt, ctx.now)
        deadline = time.monotonic() + EXPAND_BUDGET_S
        for workspace_id, docs in by_ws.items():
            self._expand_workspace(rt, workspace_id, docs, ctx.now, deadline, counts)
        for doc in sending:
            data = doc.to_dict()
            if not data.get("expanded"):
                continue
            left = progress_of(rt, {**data, "id": doc.id})
            if left["pending"] == 0 and left["deferred"] == 0:
                doc.reference.update({"status": "done", "finished_at": ctx.now})
                counts["done"] += 1
        from shared.email import upkeep

        counts["mailboxes"] = upkeep.enqueue(rt, ctx.now)
        return counts

    # -- expansion ------------------------------------------------------------------

    def _expand_workspace(
        self,
        rt: Runtime,
        workspace_id: str,
        docs: list[Any],
        now: datetime,
        deadline: float,
        counts: dict[str, int],
    ) -> None:
        from google.cloud import firestore

        ledger_ref = rt.db.collection(QUOTAS).document(workspace_id)
        snap = ledger_ref.get()
        ledger = snap.to_dict() if snap.exists else {}
        gen = int(ledger.get("expand_gen") or 0)
        key = f"email-expand:{workspace_id}:{gen}"
        if not try_claim(
            rt.db, key, owner="dispatch", now=now, workspace_id=workspace_id, ttl=timedelta(days=2)
        ):
            claimed = rt.db.collection("claims").document(key).get()
            if claimed.exists and claimed.get("claimed_at") > now - EXPAND_LEASE:
                return  # another tick is expanding this workspace right now
            # The holder died: move to the next generation (its create() arbitrates).
            ledger_ref.set({"workspace_id": workspace_id, "expand_gen": gen + 1}, merge=True)
            return
        settings = rt.db.collection(SETTINGS).document(workspace_id).get()
        conf = settings.to_dict() if settings.exists else {}
        limits = Limits.of(conf, day_cap_for(rt.db, workspace_id, conf))
        size = limits.batch_size(rt.settings.email_batch_size, now.date())
        try:
            for doc in docs:
                if time.monotonic() > deadline:
                    break
                counts["campaigns"] += 1
                self._expand(rt, doc, limits, size, now, deadline, counts)
        finally:
            # The reservations were written group by group (shared.email.quota).
            ledger_ref.set(
                {
                    "workspace_id": workspace_id,
                    "expand_gen": firestore.Increment(1),
                    "updated_at": now,
                },
                merge=True,
            )

    def _expand(
        self,
        rt: Runtime,
        doc: Any,
        limits: Limits,
        size: int,
        now: datetime,
        deadline: float,
        counts: dict[str, int],
    ) -> None:
        from google.cloud import firestore

        campaign = doc.to_dict()
        cid, ws = doc.id, campaign["workspace_id"]
        if not campaign.get("next_seq") and _list_importing(rt, campaign["list_id"], now):
            # A background import into the list is still writing: wait for it (bounded
            # by IMPORT_WAIT) rather than send to the part of the list written so far.
            log.info("campaign waits for an import into its list", campaign_id=cid)
            return
        start = campaign.get("scheduled_at") or now
        seq = int(campaign.get("next_seq") or 0)
        after = campaign.get("expand_after") or None  # the last page read (its `hi`)
        # Recipients not yet in a batch, per send instant; persisted with the cursor so
        # batches fill up across pages and a takeover resumes from a consistent state.
        carry: dict[str, list[dict[str, Any]]] = dict(campaign.get("expand_carry") or {})
        state = {"seq": seq, "batches": 0, "recipients": 0}

        # Batches cut but not yet written, with the instant each wants: reserved and
        # created CREATE_GROUP at a time (a quota transaction and a commit each).
        pending: list[tuple[str, list[dict[str, Any]], datetime]] = []

        def flush() -> None:
            if not pending:
                return
            wants = [(len(recipients), when) for _, recipients, when in pending]
            slots = reserve(rt.db, ws, wants, limits, now)
            slotted = [(bid, r, slot) for (bid, r, _), slot in zip(pending, slots, strict=True)]
            pending.clear()
            made = self._create_batches(rt, slotted, ws, cid, now)
            mine = [(bid, recipients, slot) for bid, recipients, slot in slotted if bid in made]

            def enqueue(batch: tuple[str, list[dict[str, Any]], datetime]) -> str:
                bid, recipients, slot = batch
                return enqueue_batch(rt, bid, ws, slot, cid, recipients=recipients)

            list(_ENQUEUE_POOL.map(enqueue, mine))  # re-raises the first failure

        def emit(when_key: str, final: bool) -> None:
            group = carry.get(when_key) or []
            while len(group) >= size or (final and group):
                chunk, group = group[:size], group[size:]
                when = max(datetime.fromisoformat(when_key), now)
                pending.append((batch_id(cid, state["seq"]), [_for_send(m) for m in chunk], when))
                state["seq"] += 1
                if len(pending) >= CREATE_GROUP:
                    flush()
                state["batches"] += 1
                state["recipients"] += len(chunk)
            carry[when_key] = group
            if not group:
                carry.pop(when_key)

        def save(cursor: str | None, done: bool) -> None:
            flush()  # the saved sequence must name only batches that exist
            update: dict[str, Any] = {
                "status": "sending",
                "next_seq": state["seq"],
                "expand_carry": carry,
                "total": firestore.Increment(state["recipients"]),
                "batches_total": firestore.Increment(state["batches"]),
                "updated_at": now,
            }
            if cursor is not None:
                update["expand_after"] = cursor
            if done:
                update["expanded"] = True
            doc.reference.update(update)
            counts["batches"] += state["batches"]
            counts["recipients"] += state["recipients"]
            state["batches"] = state["recipients"] = 0

        unsaved = 0
        for hi, entries in members.pages(rt.db, ws, campaign["list_id"], after):
            for entry in entries:
                key = _send_instant(campaign, entry, start).isoformat()
                carry.setdefault(key, []).append(entry)
            for key in sorted(carry):
                carry[key].sort(key=lambda m: str(m["email"]).lower())
                emit(key, final=False)
            unsaved += 1
            out_of_time = time.monotonic() > deadline
            if unsaved >= SAVE_EVERY_PAGES or out_of_time:
                # One campaign write per stretch of pages: cursor, carry, counters.
                save(hi, done=False)
                unsaved = 0
            if out_of_time:
                return  # the next tick continues from the saved cursor
        for key in sorted(carry):
            emit(key, final=True)
        save(None, done=True)
        log.info("campaign expanded", campaign_id=cid, workspace_id=ws, batches=state["seq"])

    @staticmethod
    def _create_batches(
        rt: Runtime,
        batches: list[tuple[str, list[dict[str, Any]], datetime]],
        ws: str,
        cid: str,
        now: datetime,
    ) -> set[str]:
        """Create the batches; the ids this expansion made, whose tasks it enqueues.

        create() is the "dispatched exactly once" mark. A group goes in one commit;
        if any of its batches exists already (a takeover redoing pages after the
        last save), each is created on its own instead: a failed commit wrote none of
        its batches (commits are atomic), so one that exists was made by an earlier
        (dead) expansion and is left to recovery."""
        db = rt.db
        col = db.collection(BATCHES)

        def doc(bid: str, recipients: list[dict[str, Any]], slot: datetime) -> dict[str, Any]:
            return {
                "key": bid,
                "workspace_id": ws,
                "campaign_id": cid,
                "kind": "main",
                "attempt": 0,
                "status": "queued",
                "due_at": slot,
                "enqueued_at": now,
                "recipients": recipients,
                "outcomes": {},
                "run_gen": 0,
            }

        if not batches:
            return set()
        commit = db.batch()
        for bid, recipients, slot in batches:
            commit.create(col.document(bid), doc(bid, recipients, slot))
        try:
            commit.commit()
            return {bid for bid, _, _ in batches}
        except Exception as exc:
            if not is_already_exists(exc):
                raise
        made = set()
        for bid, recipients, slot in batches:
            try:
                col.document(bid).create(doc(bid, recipients, slot))
            except Exception as exc:
                if not is_already_exists(exc):
                    raise
                continue  # an earlier (dead) expansion made it; recovery enqueues it
            made.add(bid)
        return made

    # -- recovery -------------------------------------------------------------------

    def _recover(self, rt: Runtime, now: datetime) -> int:
        stale = now - rt.settings.recovery_grace(RECOVERY_GRACE)
        by_due, by_lease = q.LOST_BATCHES["due_at"], q.LOST_BATCHES["lease_until"]
        lost = list(build(rt.db, by_due, status="queued", lt=stale).limit(200).stream())
        # A live run renews its lease every quarter of it: one not renewed for half of
        # it belongs to a run that died (or stalled), and is taken over when it ends.
        unrenewed = now + timedelta(seconds=rt.settings.email_lease_s) / 2
        lost += list(build(rt.db, by_lease, status="sending", lt=unrenewed).limit(200).stream())
        for doc in lost:
            data = doc.to_dict()
            if data["status"] == "sending":
                lease_until = data["lease_until"]
                when = takeover_at(lease_until, now)
                # One task per lease seen (Cloud Tasks drops a repeated name).
                tag = f"takeover{int(lease_until.timestamp())}"
            else:
                doc.reference.update({"due_at": now})
                when, tag = None, f"recover{int(now.timestamp())}"
            enqueue_batch(
                rt,
                doc.id,
                data["workspace_id"],
                when,
                data["campaign_id"],
                attempt_tag=tag,
                recipients=data.get("recipients") or (),
            )
            log.warning(
                "re-enqueued a batch whose task or worker was lost",
                batch_id=doc.id,
                status=data.get("status"),
                due=(when or now).isoformat(),
            )
        return len(lost) + recover_lost_chunks(rt, now, stale)


def _list_importing(rt: Runtime, list_id: str, now: datetime) -> bool:
    """Whether a recent background import into the list is still being written."""
    query = build(rt.db, q.LIST_IMPORTS, list_id=list_id, status="importing")
    return any((d.get("created_at") or now) > now - IMPORT_WAIT for d in query.limit(5).stream())


# What the send path reads of a recipient (id and address, template variables).
_SEND_FIELDS = ("id", "email", "first_name", "last_name", "fields")


def _for_send(entry: dict[str, Any]) -> dict[str, Any]:
    """A recipient as its batch keeps it: the fields the send reads, only when set.

    A batch document is read by the worker and rewritten with the outcomes, so its
    size is on every batch's path: empty names and custom fields and the timezone
    (already spent choosing the send instant) would be about half of it. Templates
    treat an empty value as absent (shared.email.render.context_for), so dropping one
    changes no message.
    """
    fields = {k: v for k, v in (entry.get("fields") or {}).items() if v not in (None, "")}
    kept = {**entry, "fields": fields}
    return {k: kept[k] for k in _SEND_FIELDS if kept.get(k) not in (None, "", {})}


def _send_instant(campaign: dict[str, Any], entry: dict[str, Any], start: datetime) -> datetime:
    """When this recipient gets the campaign: the scheduled instant, or the local hour."""
    hour = campaign.get("local_hour")
    if hour is None:
        return start
    zone_name = entry.get("timezone") or campaign.get("timezone") or "UTC"
    home = zone_or_utc(campaign.get("timezone"))
    zone = find_zone(zone_name) or home
    day = start.astimezone(home).date()
    return datetime(day.year, day.month, day.day, int(hour), tzinfo=zone).astimezone(UTC)


SOURCE = EmailSource()
