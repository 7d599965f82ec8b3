"""Topic rotation: priority-weighted, diverse over time, persisted in Firestore.

Stride scheduling: each topic has a virtual time `vtime` that grows by 1/priority each
time it is used; the next topic is the one with the smallest vtime (ties: least recently
used, then brief order). So topics of equal priority strictly alternate, and over many
posts each topic's share is proportional to its priority. A topic added later starts
at the current minimum vtime instead of zero, so it joins the rotation without
monopolising it.

State: collection `topic_rotation`, one document per campaign and topic,
id `{campaign_id}__{topic_key}`, fields workspace_id, campaign_id, topic_key, topic,
vtime, uses, last_used_at. Updates use Increment (atomic on the emulator too), so two
overlapping generations never lose a use; at worst both pick the same topic once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.generate.brief import Topic

TOPIC_ROTATION = "topic_rotation"


@dataclass
class TopicState:
    topic: Topic
    vtime: float
    uses: int
    last_used_at: datetime | None
    persisted: bool  # a state document exists
    picked: int = 0  # order of the last pick in this process (ties within one instant)

    @property
    def stride(self) -> float:
        return 1.0 / self.topic.priority


@dataclass(frozen=True)
class Taken:
    """One pick: the topic, how often it was used before, and how many posts the
    campaign had before (both vary the offline wording)."""

    topic: Topic
    seq: int
    n: int = 0


class Rotation:
    """Picks topics in memory; `record()` persists the uses that produced a draft."""

    def __init__(self, topics: tuple[Topic, ...], states: dict[str, dict[str, Any]]) -> None:
        if not topics:
            raise ValueError("a rotation needs at least one topic")
        self._order = {t.key: i for i, t in enumerate(topics)}
        self._picks = 0
        known = [
            float(v["vtime"])
            for t in topics
            if isinstance((v := states.get(t.key) or {}).get("vtime"), int | float)
        ]
        # A topic without state starts at the current minimum: with the others at the
        # first generation, or "now" in virtual time when it is added later.
        start = min(known) if known else 0.0
        self.states: dict[str, TopicState] = {}
        for t in topics:
            raw = states.get(t.key) or {}
            vt = raw.get("vtime")
            self.states[t.key] = TopicState(
                topic=t,
                vtime=float(vt) if isinstance(vt, int | float) else start,
                uses=int(raw.get("uses") or 0),
                last_used_at=raw.get("last_used_at"),
                persisted=isinstance(vt, int | float),
            )

    def pick(self) -> Topic:
        # Compare the vtime each topic would have *after* this use, so a higher priority
        # (smaller stride) wins ties and shares stay proportional to priority.
        best = min(
            self.states.values(),
            key=lambda s: (
                round(s.vtime + s.stride, 9),
                s.last_used_at is not None,
                s.last_used_at.timestamp() if s.last_used_at else 0.0,
                s.picked,
                self._order[s.topic.key],
            ),
        )
        return best.topic

    def take(self, now: datetime, topic: Topic | None = None) -> Taken:
        """Pick (or use the given topic) and advance it in memory."""
        state = self.states[(topic or self.pick()).key]
        seq, n = state.uses, sum(s.uses for s in self.states.values())
        state.vtime += state.stride
        state.uses += 1
        state.last_used_at = now
        self._picks += 1
        state.picked = self._picks
        return Taken(state.topic, seq, n)

    def shares(self) -> dict[str, int]:
        return {k: s.uses for k, s in self.states.items()}


def state_id(campaign_id: str, topic_key: str) -> str:
    return f"{campaign_id}__{topic_key}"


def load(db: Any, workspace_id: str, campaign_id: str, topics: tuple[Topic, ...]) -> Rotation:
    """The campaign's rotation; topics seen for the first time get their start state
    persisted now, so their place in the rotation does not drift while they wait."""
    from shared.firestore import is_already_exists

    col = db.collection(TOPIC_ROTATION)
    refs = [col.document(state_id(campaign_id, t.key)) for t in topics]
    states: dict[str, dict[str, Any]] = {}
    for snap in db.get_all(refs):
        if snap.exists:
            data = snap.to_dict()
            if data.get("workspace_id") == workspace_id:
                states[str(data.get("topic_key"))] = data
    rotation = Rotation(topics, states)
    for state in rotation.states.values():
        if state.persisted:
            continue
        try:
            col.document(state_id(campaign_id, state.topic.key)).create(
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "topic_key": state.topic.key,
                    "topic": state.topic.name,
                    "vtime": state.vtime,
                    "uses": 0,
                    "last_used_at": None,
                }
            )
        except Exception as exc:
            if not is_already_exists(exc):  # a concurrent generation created it: fine
                raise
        state.persisted = True
    return rotation


def record(
    db: Any, rotation: Rotation, workspace_id: str, campaign_id: str, taken: Taken, now: datetime
) -> None:
    """Persist one use of a taken topic (call once its draft is stored)."""
    from google.cloud.firestore import Increment

    state = rotation.states[taken.topic.key]
    db.collection(TOPIC_ROTATION).document(state_id(campaign_id, taken.topic.key)).set(
        {
            "workspace_id": workspace_id,
            "campaign_id": campaign_id,
            "topic_key": taken.topic.key,
            "topic": taken.topic.name,
            "vtime": Increment(state.stride),
            "uses": Increment(1),
            "last_used_at": now,
        },
        merge=True,
    )
