"""Property-based fuzzing of every operation, generated from the OpenAPI document.

schemathesis turns each operation's schema into Hypothesis strategies: schema-valid
(positive) and schema-breaking (negative) path values, query strings and bodies. Every
operation is called in-process through the Flask test client, three ways:

- without a token (everything generated): 4xx;
- with the owner's token in the owner's workspace, ids generated;
- with the owner's token on real objects of the workspace (positive and negative bodies).

Properties: no answer is 5xx; every 4xx is the API's error shape; a JSON answer is
JSON; nothing of the other workspace (its canary name) ever shows up. The run is seeded
(`derandomize`) and bounded (`max_examples` per operation and flavour), so it is the same
run every time; the closing line says what it covered.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from shared.api import auth
from tests.api.conftest import Api
from tests.images import png

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

CANARY = "CANARY-OTHER-WORKSPACE"
# Examples per operation: (flavour, generation mode, count).
PLAN = (
    ("anonymous", GenerationMode.NEGATIVE, 2),
    ("member-generated-ids", GenerationMode.POSITIVE, 2),
    ("member-real-ids", GenerationMode.POSITIVE, 5),
    ("member-real-ids", GenerationMode.NEGATIVE, 5),
    ("member-hostile-ids", GenerationMode.POSITIVE, 1),
)
# Path values no generator would think of: over Firestore's id limit, reserved ids,
# traversal, encodings.
HOSTILE_IDS = ("a" * 2000, "..", "__x__", ".", "%2e%2e%2fx", "é" * 300, "x;drop", "0" * 21)
# Answers that are not JSON by design.
BINARY = ("/content", "/exports/")


def _settings(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,  # the same cases every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def _seed(api: Api, token: str, ws: str) -> dict[str, str]:
    """Real objects of the workspace, one of each kind the paths name."""
    db, now = api.runtime.db, api.runtime.clock.now()

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = api.call("POST", f"/workspaces/{ws}{path}", token, json=body)
        assert r.status_code in (200, 201), (path, r.get_json())
        return dict(r.get_json())

    account = post("/x/accounts/sandbox", {"handle": "fuzz"})
    campaign = post("/campaigns", {"name": "Fuzz", "account_id": account["id"]})
    image = api.call(
        "POST",
        f"/workspaces/{ws}/media",
        token,
        data={"file": (io.BytesIO(png()), "a.png", "image/png")},
        content_type="multipart/form-data",
    ).get_json()
    post_ = post("/posts", {"account_id": account["id"], "text": "hello", "media": [image["id"]]})
    template = post("/templates", {"name": "T", "text": "Hi {name}"})
    plan = post(
        f"/campaigns/{campaign['id']}/plans", {"account_id": account["id"], "posts_per_day": 2}
    )
    series = post(
        "/series",
        {
            "name": "S",
            "account_id": account["id"],
            "texts": ["a", "b"],
            "start_at": now.isoformat(),
            "end_at": (now + timedelta(days=7)).isoformat(),
        },
    )
    lst = post("/lists", {"name": "L"})
    email_template = post("/email/templates", {"name": "E", "subject": "s", "html": "<p>x</p>"})
    email_campaign = post(
        "/email/campaigns", {"name": "E", "subject": "s", "html": "<p>{{ x }}</p>"}
    )
    opening = post(
        "/jobs/openings",
        {
            "title": "Engineer",
            "company": "Acme",
            "location": {"country": "US"},
            "apply_url": "https://acme.example/jobs/1",
        },
    )
    invitation = post("/invitations", {"username": "fuzz-invitee"})
    user_id = db.collection("usernames").document("alice").get().get("user_id")
    return {
        "ws": ws,
        "account_id": account["id"],
        "campaign_id": campaign["id"],
        "post_id": post_["id"],
        "template_id": template["id"],
        "plan_id": plan["id"],
        "series_id": series["id"],
        "media_id": image["id"],
        "list_id": lst["id"],
        "email_template_id": email_template["id"],
        "email_campaign_id": email_campaign["id"],
        "opening_id": opening["id"],
        "invitation_id": invitation["id"],
        "member_id": user_id,
        "platform": "meta",
        "table": "posts",
    }


def _canary_workspace(api: Api) -> None:
    """Another workspace whose objects all carry the canary in their names."""
    _, other = api.user("canary-owner", CANARY)
    assert other
    token = api.login("canary-owner")
    for path, body in (
        ("/campaigns", {"name": CANARY, "description": CANARY}),
        ("/templates", {"name": CANARY, "text": CANARY}),
        ("/lists", {"name": CANARY}),
        ("/email/templates", {"name": CANARY, "subject": CANARY, "html": CANARY}),
    ):
        r = api.call("POST", f"/workspaces/{other}{path}", token, json=body)
        assert r.status_code == 201, r.get_json()


def _mimetype(response: Any) -> str:
    for key, values in response.headers.items():
        if key.lower() == "content-type":
            value = values[0] if isinstance(values, list) else values
            return str(value).split(";", 1)[0].strip()
    return ""


def _check(case: Any, response: Any, seen: Counter[str]) -> None:
    where = f"{case.method} {case.formatted_path}"
    status = response.status_code
    body = response.content.decode("utf-8", "replace")
    seen[f"{status // 100}xx"] += 1
    assert status < 500, (where, status, body[:500])
    assert CANARY not in body, where
    if status == 204 or case.method == "HEAD":
        return
    if status < 400 and any(part in case.operation.path for part in BINARY):
        return
    assert _mimetype(response) == "application/json", (where, status, _mimetype(response))
    data = json.loads(body)
    if status >= 400:
        assert isinstance(data, dict) and set(data) == {"error"}, (where, body[:300])
        error = data["error"]
        assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
        assert "details" in error, (where, body[:300])


# The operations are fuzzed in shards (each on a fresh project), so no one test runs
# long on a loaded machine.
SHARDS = 3


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_survives_generated_hostile_requests(api: Api, owner, shard: int) -> None:
    token, ws = owner
    user_id = api.runtime.db.collection("usernames").document("alice").get().get("user_id")
    ids = _seed(api, token, ws)
    _canary_workspace(api)
    doc = api.call("GET", "/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(doc)
    app = api.client.application
    everything = [result.ok() for result in schema.get_all_operations()]
    assert len(everything) == len(doc_ops(doc))
    operations = everything[shard::SHARDS]
    seen: Counter[str] = Counter()
    cases = 0
    started = time.monotonic()
    per_op: dict[str, float] = {}
    for op in operations:
        op_started = time.monotonic()
        params = [p.name for p in op.path_parameters]
        for flavour, mode, count in PLAN:
            headers: dict[str, str] = {}
            fixed: dict[str, str] | None = None
            if flavour != "anonymous":
                # A token of its own per operation: logout and refresh revoke theirs.
                fresh, _ = auth.issue_token(api.runtime, user_id)
                headers = {"Authorization": f"Bearer {fresh}"}
                fixed = {"ws": ws} if "ws" in params else {}
                if flavour == "member-real-ids":
                    fixed = {p: ids[p] for p in params if p in ids}
                if flavour == "member-hostile-ids":
                    if not params:
                        continue
                    fixed = {
                        p: HOSTILE_IDS[(len(per_op) + i) % len(HOSTILE_IDS)]
                        for i, p in enumerate(params)
                    }
            strategy = op.as_strategy(generation_mode=mode, path_parameters=fixed or None)

            @_settings(count)
            @given(case=strategy, headers=st.just(headers))
            def run(case: Any, headers: dict[str, str]) -> None:
                nonlocal cases
                cases += 1
                response = case.call(app=app, headers=headers)
                _check(case, response, seen)

            try:
                run()
            except Unsatisfiable:
                # Nothing of this operation can be made to break its schema (a GET with
                # fixed path values and no query): the positive flavours cover it.
                assert mode is GenerationMode.NEGATIVE, (op.method, op.path, flavour)
        per_op[f"{op.method} {op.path}"] = time.monotonic() - op_started
    if os.environ.get("HERALD_FUZZ_PROFILE"):
        for name, took in sorted(per_op.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {took:6.2f}s {name}")
    elapsed = time.monotonic() - started
    print(
        f"\nfuzz shard {shard + 1}/{SHARDS}: {len(operations)} of {len(everything)} operations, "
        f"{cases} generated cases in {elapsed:.1f}s "
        f"(answers: {dict(sorted(seen.items()))})"
    )
    assert cases >= len(operations) * 5


def doc_ops(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m, p) for p, item in doc["paths"].items() for m in item]
