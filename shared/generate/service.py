"""Generation: drafts for a campaign from its brief, stored through the X pipeline.

For each draft: pick a topic (priority rotation), have the writer (Gemini, or the
offline templates when no key is configured) propose a post, make it fit the account's
weighted length (ask Gemini again once, then trim: drop surplus hashtags, then words,
never links), reject near-duplicates of the account's recent posts, render an image if
the campaign wants one, and store the draft with `shared.x.service.create_post(...,
source="generated")`. Drafts land as `draft`, or `approved` when the campaign does not
require approval (autopilot drafts with a slot are then scheduled at it).

Asked for several channels (`channels`: other accounts the drafts also go to; by
default the campaign's own `channels`), each draft fits every network as it counts
(shared.generate.targets: the strictest decides) and is stored as a post group, one
post per channel (shared.x.groups).

An account that cannot post (disconnected, revoked, ...): the campaign's own account
stops the generation with a clear error (its drafts could never go out); one of the
campaign's other channels is skipped and listed in `skipped_channels` with why, so the
campaign goes on posting to the rest. A channel the caller chose explicitly must be
usable: it is an error too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, HeraldError, ValidationError
from shared.generate import topics as rotation_store
from shared.generate.brief import Brief, Topic, slug
from shared.generate.dedupe import DuplicateIndex
from shared.generate.drafting import Candidate, Slot, Usage, WriteContext, Writer, fit
from shared.generate.targets import Targets, channel_accounts
from shared.generate.usage import record_usage
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("generate")

MAX_COUNT = 20
MAX_ROUNDS = 3  # writer requests per generation (beyond re-asks for length)
RECENT_POSTS = 200  # how far back near-duplicates are looked for, per account
GEMINI_SECRET = "gemini-api-key"  # noqa: S105 - a secret name, not a value


@dataclass
class GenerateRequest:
    workspace_id: str
    campaign_id: str
    count: int = 1
    topic: str | None = None  # force one topic (name or key) for every draft
    images: bool | None = None  # None: the campaign's image setting
    due_at: list[datetime] = field(default_factory=list)  # one per draft (autopilot slots)
    schedule: bool = False  # schedule drafts that need no approval at their due_at
    # Other accounts each draft also goes to (a post group); None: the campaign's channels.
    channels: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> GenerateRequest:
        problems: dict[str, str] = {}
        ws, cid = body.get("workspace_id"), body.get("campaign_id")
        if not isinstance(ws, str) or not ws:
            problems["workspace_id"] = "workspace_id is required"
        if not isinstance(cid, str) or not cid:
            problems["campaign_id"] = "campaign_id is required"
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            problems["count"] = f"count must be a whole number from 1 to {MAX_COUNT}"
        topic = body.get("topic")
        if topic is not None and (not isinstance(topic, str) or not topic.strip()):
            problems["topic"] = "topic must be a topic name"
        images = body.get("images")
        if images is not None and not isinstance(images, bool):
            problems["images"] = "images must be true or false"
        channels = body.get("channels")
        if channels is not None and (
            not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels)
        ):
            problems["channels"] = "channels must be a list of account ids"
        if problems:
            raise ValidationError("the generation request is incomplete", problems)
        chosen = None if channels is None else tuple(channels)
        return cls(str(ws), str(cid), int(count), topic, images, channels=chosen)


@dataclass
class Outcome:
    generator: str
    drafts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    trends: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    # The campaign's channels left out of this call: {account_id, handle, network, reason}
    skipped_channels: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "drafts": self.drafts,
            "rejected": self.rejected,
            "usage": self.usage.__dict__,
            "trends": self.trends,
            "error": self.error,
            "skipped_channels": self.skipped_channels,
        }


def choose_writer(runtime: Runtime) -> Writer:
    """Gemini when an API key is configured, else the offline templates."""
    key = runtime.secrets.optional_app_secret(GEMINI_SECRET)
    if key:
        from shared.generate.gemini import GeminiWriter

        return GeminiWriter(api_key=key, model=runtime.settings.gemini_model)
    from shared.generate.offline import OfflineWriter

    return OfflineWriter()


def _recent_texts(db: Any, account_id: str) -> list[str]:
    from shared.queries import build
    from shared.queries.generate import RECENT_TEXTS

    query = build(db, RECENT_TEXTS, account_id=account_id).limit(RECENT_POSTS)
    return [t for t in (s.get("text") for s in query.stream()) if isinstance(t, str)]


class Generation:
    """One generate call; holds what the drafts of this call share."""

    def __init__(
        self, runtime: Runtime, req: GenerateRequest, writer: Writer | None = None
    ) -> None:
        from shared.x import service as xs

        self.runtime, self.req = runtime, req
        self.now = runtime.clock.now()
        self.campaign = xs.get_campaign(runtime, req.workspace_id, req.campaign_id)
        self.brief = Brief.from_campaign(self.campaign)
        if not self.brief.account_id:
            raise ValidationError(
                "the campaign has no account; choose the account (X, Bluesky or Mastodon) "
                "its posts go to",
                {"account_id": "required"},
            )
        self.account = xs.get_account(runtime, req.workspace_id, self.brief.account_id)
        if self.account.get("status") != "active":
            raise ValidationError(
                f"the campaign's account @{self.account['handle']} is "
                f"{self.account.get('status')}: reconnect it in Settings or choose another "
                "account for the campaign",
                {"account_id": self.account["id"]},
            )
        ids = req.channels if req.channels is not None else self.brief.channels
        self.channels, self.skipped = channel_accounts(
            runtime, req.workspace_id, self.account["id"], ids, explicit=req.channels is not None
        )
        self.targets = Targets([self.account, *self.channels])
        self.limit = self.targets.limit
        self.writer = writer or choose_writer(runtime)
        self.forced = self._forced_topic(req.topic)
        self.images = self.brief.image.enabled if req.images is None else req.images

    def _forced_topic(self, name: str | None) -> Topic | None:
        if not name:
            return None
        for t in self.brief.topics:
            if t.key == slug(name) or t.name.lower() == name.strip().lower():
                return t
        raise ValidationError(
            f"the campaign has no topic {name!r}",
            {"topics": [t.name for t in self.brief.topics]},
        )

    def run(self) -> Outcome:
        db, ws, cid = self.runtime.db, self.req.workspace_id, self.req.campaign_id
        out = Outcome(generator=self.writer.name, skipped_channels=self.skipped)
        if self.writer.name != "offline":  # trends only inform the model
            from shared.generate.trends import trends_for

            out.trends = trends_for(self.runtime, self.account, self.campaign.get("region"))
        recent = _recent_texts(db, self.account["id"])
        index = DuplicateIndex(recent, boilerplate=[self.brief.call_to_action])
        counting = self.targets.counting
        ctx = WriteContext(self.limit, tuple(out.trends), tuple(recent), counting)
        rotation = rotation_store.load(db, ws, cid, self.brief.topics)
        try:
            for _ in range(MAX_ROUNDS):
                need = self.req.count - len(out.drafts)
                if need <= 0:
                    break
                # Later rounds also show the model what this call wrote or had rejected.
                fresh = [d["text"] for d in out.drafts] + [
                    r["text"] for r in out.rejected if r.get("reason") == "near_duplicate"
                ]
                ctx = WriteContext(self.limit, tuple(out.trends), tuple(fresh + recent), counting)
                taken = [rotation.take(self.now, self.forced) for _ in range(need)]
                # seq walks on with each round so retried offline drafts differ.
                slots = [Slot(t.topic, t.seq, t.n) for t in taken]
                result = self.writer.write(self.brief, slots, ctx)
                out.usage.add(result.usage)
                for i, t in enumerate(taken):
                    cand = _match(result.candidates, t.topic.key, i)
                    if cand is None:
                        out.rejected.append({"topic": t.topic.name, "reason": "no_answer"})
                        continue
                    draft = self._accept(cand, t.topic, index, ctx, out)
                    if draft is not None:
                        rotation_store.record(db, rotation, ws, cid, t, self.now)
                        out.drafts.append(draft)
        except HeraldError as exc:
            # Drafts already stored stay; the caller sees why the rest is missing.
            if not out.drafts:
                record_usage(db, ws, out.usage, self.now, out.generator)
                raise
            out.error = {"code": exc.code, "message": exc.message, "details": exc.details}
            log.warning("generation stopped early", campaign_id=cid, error=exc.message)
        record_usage(db, ws, out.usage, self.now, out.generator)
        log.info(
            "generated drafts",
            workspace_id=ws,
            campaign_id=cid,
            generator=out.generator,
            drafts=len(out.drafts),
            rejected=len(out.rejected),
            requests=out.usage.requests,
            # ("tokens" would be redacted by the logger, which hides anything token-like)
            usage_total=out.usage.total_tokens,
        )
        return out

    def _fit(self, cand: Candidate, ctx: WriteContext, out: Outcome) -> str | None:
        min_tags = 1 if self.brief.hashtags_per_post else 0
        text = cand.text()
        if self.targets.fits(text):
            return text
        # Over the limit: ask the writer once for a shorter version, then trim.
        retry = self.writer.shorten(self.brief, cand, self.targets.length(text), ctx)
        out.usage.add(retry.usage)
        if retry.candidates:
            shorter = retry.candidates[0]
            # A rewrite that dropped a link of the brief is not the same post: trim the
            # original instead.
            if all(link in shorter.body for link in _links(cand.body)):
                shorter.topic_key = cand.topic_key
                shorter.headline = shorter.headline or cand.headline
                shorter.chart = shorter.chart or cand.chart
                if self.targets.fits(shorter.text()):
                    return shorter.text()
                cand = shorter
        return fit(cand, self.limit, min_tags, self.targets.fits)

    def _accept(
        self, cand: Candidate, topic: Topic, index: DuplicateIndex, ctx: WriteContext, out: Outcome
    ) -> dict[str, Any] | None:
        text = self._fit(cand, ctx, out)
        if text is None:
            out.rejected.append({"topic": topic.name, "reason": "too_long", "text": cand.text()})
            return None
        problem = self.targets.problem(text)
        if problem:  # never store a draft a network would refuse
            out.rejected.append({"topic": topic.name, "reason": "invalid", "message": problem})
            return None
        similarity = index.most_similar(text)
        if similarity >= index.threshold:
            out.rejected.append(
                {
                    "topic": topic.name,
                    "reason": "near_duplicate",
                    "similarity": round(similarity, 3),
                    "text": text,
                }
            )
            return None
        draft = self._store(text, cand, topic)
        index.add(text)
        return draft

    def _store(self, text: str, cand: Candidate, topic: Topic) -> dict[str, Any]:
        from shared.x import service as xs

        ws = self.req.workspace_id
        due = self.req.due_at[0] if self.req.due_at else None
        media: list[str] = []
        image_kind = None
        if self.images:
            from shared import media as media_store
            from shared.generate.images import render

            png, image_kind = render(cand.headline or topic.name, cand.chart, self.brief.image)
            media.append(media_store.put(self.runtime, ws, png, source="generated")["id"])
        fields: dict[str, Any] = {
            "text": text,
            "media": media,
            "campaign_id": self.req.campaign_id,
            "due_at": due,
            "timezone": str(self.campaign.get("timezone") or "UTC"),
            "source": "generated",
            "generator": self.writer.name,
            "model": getattr(self.writer, "model", None),
            "topic": topic.name,
            "topic_key": topic.key,
            "headline": cand.headline,
            "image_kind": image_kind,
            "generated_at": self.now,
        }
        if self.channels:
            return self._store_group(fields, due)
        post = xs.create_post(self.runtime, ws, account_id=self.account["id"], **fields)
        if due is not None:
            self.req.due_at.pop(0)
        if self.brief.approval_required:
            return post
        try:
            post = xs.approve_post(self.runtime, ws, post["id"])
            if self.req.schedule and due is not None:
                post = xs.schedule_post(self.runtime, ws, post["id"])
        except (ValidationError, Conflict) as exc:
            # The draft is kept for a person to fix; the reason travels with it.
            post = {**xs.get_post(self.runtime, ws, post["id"]), "approval_error": exc.message}
        return post

    def _store_group(self, fields: dict[str, Any], due: datetime | None) -> dict[str, Any]:
        """One draft per channel (all or none), approved and scheduled together; the
        campaign's account's post is returned, with `group_id` and each channel's post."""
        from shared.x import groups
        from shared.x import service as xs

        ws = self.req.workspace_id
        channels = [{"account_id": a["id"]} for a in [self.account, *self.channels]]
        group = groups.create_group(self.runtime, ws, channels=channels, **fields)
        if due is not None:
            self.req.due_at.pop(0)
        ids = [p["id"] for p in group["posts"]]
        latest = {p["id"]: p for p in group["posts"]}  # each step answers the posts it left
        error = None
        if not self.brief.approval_required:
            try:
                for post_id in ids:
                    latest[post_id] = xs.approve_post(self.runtime, ws, post_id)
                if self.req.schedule and due is not None:
                    scheduled = groups.schedule_group(self.runtime, ws, group["group_id"])
                    latest.update((p["id"], p) for p in scheduled["posts"])
            except (ValidationError, Conflict) as exc:
                error = exc.message  # the drafts stay for a person to fix
        posts = [{k: v for k, v in latest[i].items() if k != "result"} for i in ids]
        main = next(p for p in posts if p["account_id"] == self.account["id"])
        extra = {"approval_error": error} if error else {}
        return {**main, **extra, "channels": posts}


def _links(text: str) -> list[str]:
    return [w for w in text.split() if w.startswith(("http://", "https://"))]


def _match(cands: list[Candidate], key: str, index: int) -> Candidate | None:
    """The candidate for a slot: by topic key, else by position (models reorder)."""
    for c in cands:
        if c.topic_key == key and not c.used:
            c.used = True
            return c
    if index < len(cands) and not cands[index].used:
        cands[index].used = True
        return cands[index]
    return None


def generate(runtime: Runtime, req: GenerateRequest, writer: Writer | None = None) -> Outcome:
    return Generation(runtime, req, writer).run()
