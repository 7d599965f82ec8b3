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
    vtime: float | None  # None: never used in this campaign
    uses: int
    last_used_at: datetime | None
    persisted: bool = False  # a state document exists

    @property
    def stride(self) -> float:
        return 1.0 / self.topic.priority


@dataclass(frozen=True)
class Taken:
    """One pick: the topic, how often it was used before (varies the wording), and the
    vtime it reached in memory (what a first persisted use stores)."""

    topic: Topic
    seq: int
    vtime: float


class Rotation:
    """Picks topics in memory; `record()` persists the uses that produced a draft."""

    def __init__(self, topics: tuple[Topic, ...], states: dict[str, dict[str, Any]]) -> None:
        if not topics:
            raise ValueError("a rotation needs at least one topic")
        self._order = {t.key: i for i, t in enumerate(topics)}
        self.states: dict[str, TopicState] = {}
        for t in topics:
            raw = states.get(t.key) or {}
            vt = raw.get("vtime")
            self.states[t.key] = TopicState(
                topic=t,
                vtime=float(vt) if isinstance(vt, int | float) else None,
                uses=int(raw.get("uses") or 0),
                last_used_at=raw.get("last_used_at"),
                persisted=bool(raw),
            )

    def _floor(self) -> float:
        used = [s.vtime for s in self.states.values() if s.vtime is not None]
        return min(used) if used else 0.0

    def _effective(self, state: TopicState) -> float:
        return state.vtime if state.vtime is not None else self._floor()

    def pick(self) -> Topic:
        # Compare the vtime each topic would have *after* this use, so a higher priority
        # (smaller stride) wins ties and shares stay proportional to priority.
        best = min(
            self.states.values(),
            key=lambda s: (
                round(self._effective(s) + s.stride, 9),
                s.last_used_at is not None,
                s.last_used_at.timestamp() if s.last_used_at else 0.0,
                self._order[s.topic.key],
            ),
        )
        return best.topic

    def take(self, now: datetime, topic: Topic | None = None) -> Taken:
        """Pick (or use the given topic) and advance it in memory."""
        state = self.states[(topic or self.pick()).key]
        seq = state.uses
        state.vtime = self._effective(state) + state.stride
        state.uses += 1
        state.last_used_at = now
        return Taken(state.topic, seq, state.vtime)

    def shares(self) -> dict[str, int]:
        return {k: s.uses for k, s in self.states.items()}


def state_id(campaign_id: str, topic_key: str) -> str:
    return f"{campaign_id}__{topic_key}"


def load(db: Any, workspace_id: str, campaign_id: str, topics: tuple[Topic, ...]) -> Rotation:
    refs = [db.collection(TOPIC_ROTATION).document(state_id(campaign_id, t.key)) for t in topics]
    states: dict[str, dict[str, Any]] = {}
    for snap in db.get_all(refs):
        if snap.exists:
            data = snap.to_dict()
            if data.get("workspace_id") == workspace_id:
                states[str(data.get("topic_key"))] = data
    return Rotation(topics, states)


def record(
    db: Any, rotation: Rotation, workspace_id: str, campaign_id: str, taken: Taken, now: datetime
) -> None:
    """Persist one use of a taken topic (call once its draft is stored)."""
    from google.cloud.firestore import Increment

    from shared.firestore import is_already_exists

    topic = taken.topic
    state = rotation.states[topic.key]
    ref = db.collection(TOPIC_ROTATION).document(state_id(campaign_id, topic.key))
    if not state.persisted:
        try:
            ref.create(
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "topic_key": topic.key,
                    "topic": topic.name,
                    "vtime": taken.vtime,
                    "uses": 1,
                    "last_used_at": now,
                }
            )
            state.persisted = True
            return
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            state.persisted = True  # another generation created it: increment instead
    ref.update(
        {
            "vtime": Increment(state.stride),
            "uses": Increment(1),
            "last_used_at": now,
            "topic": topic.name,
        }
    )
