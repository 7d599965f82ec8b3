"""The shared core against the real emulators."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shared import claims, tenancy
from shared.log import Logger, bound
from shared.runtime import Runtime
from shared.secrets import EncryptedFileStore, SecretNotFound, Secrets
from shared.tasks import CloudTasksEnqueuer, TaskSpec


def test_claim_has_exactly_one_winner_under_races(runtime: Runtime) -> None:
    now = runtime.clock.now()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def contend() -> None:
        barrier.wait()
        wins.append(claims.try_claim(runtime.db, "post:p1:publish:0", owner="w", now=now))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert claims.get_claim(runtime.db, "post:p1:publish:0")["owner"] == "w"


def test_claim_keys_reject_slashes() -> None:
    with pytest.raises(ValueError, match="/"):
        claims.claim_id("post", "a/b")


def test_secret_store_encrypts_at_rest(tmp_path: Path) -> None:
    store = EncryptedFileStore(tmp_path / "s")
    store.put("ws-1-smtp-password-x", "hunter2-very-secret")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").iterdir())
    assert b"hunter2" not in raw and b"smtp-password" not in raw
    assert store.get("ws-1-smtp-password-x") == "hunter2-very-secret"
    # A second store with the same key file reads it back.
    assert EncryptedFileStore(tmp_path / "s").get("ws-1-smtp-password-x") == "hunter2-very-secret"
    store.delete("ws-1-smtp-password-x")
    with pytest.raises(SecretNotFound):
        store.get("ws-1-smtp-password-x")
    with pytest.raises(ValueError, match="invalid secret name"):
        store.put("../escape", "x")


def _stores_started_at_once(directory: Path, count: int) -> list[EncryptedFileStore]:
    barrier = threading.Barrier(count)
    stores: list[EncryptedFileStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(EncryptedFileStore(directory))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return stores


def test_stores_started_at_once_share_one_complete_key(tmp_path: Path) -> None:
    """Function processes cold-starting together all create the local key: every one must
    end up with the same whole key (a loser used to fail with FileExistsError)."""
    for round_n in range(5):
        directory = tmp_path / f"r{round_n}"
        stores = _stores_started_at_once(directory, 12)
        stores[0].put("shared-secret", f"value {round_n}")
        assert {s.get("shared-secret") for s in stores} == {f"value {round_n}"}
        assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == [".key"]


def test_app_secrets_are_generated_locally_and_stable(runtime: Runtime) -> None:
    key = runtime.secrets.app_secret("token-signing-key")
    assert len(key) >= 40
    assert Secrets(runtime.settings).app_secret("token-signing-key") == key
    with pytest.raises(SecretNotFound):
        runtime.secrets.app_secret("gemini-api-key")  # never invented: it must be configured
    assert runtime.secrets.optional_app_secret("gemini-api-key") is None


def test_logs_are_cloud_logging_json_and_redact_secrets() -> None:
    out = io.StringIO()
    log = Logger("t", stream=out)
    with bound(workspace_id="ws1", **{"logging.googleapis.com/trace": "projects/p/traces/abc"}):
        log.info("posted", post_id="p1", password="hunter2", smtp={"api_key": "k"})
        log.alert("post_failed", "post failed", reason="revoked")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["severity"] == "INFO" and first["message"] == "posted"
    assert first["workspace_id"] == "ws1" and first["post_id"] == "p1"
    assert first["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert first["password"] == "[redacted]" and first["smtp"]["api_key"] == "[redacted]"
    assert "hunter2" not in out.getvalue()
    assert second["severity"] == "ERROR" and second["alert"] == "post_failed"


def test_tenancy_roles_and_isolation(runtime: Runtime) -> None:
    db, now = runtime.db, runtime.clock.now()
    alice = tenancy.create_user(db, "Alice", "correct horse battery", now)
    with pytest.raises(tenancy.Conflict):
        tenancy.create_user(db, "alice", "another password!", now)
    with pytest.raises(tenancy.TenancyError, match="at least 10"):
        tenancy.create_user(db, "bob", "short", now)
    ws = tenancy.create_workspace(db, "Acme", alice, now, "Europe/Paris")
    with pytest.raises(tenancy.TenancyError, match="IANA"):
        tenancy.create_workspace(db, "Bad", alice, now, "Mars/Olympus")
    assert tenancy.role_of(db, ws, alice) is tenancy.Role.OWNER
    assert tenancy.Role.OWNER.allows(tenancy.Role.EDITOR)
    assert not tenancy.Role.VIEWER.allows(tenancy.Role.EDITOR)
    user_id, user = tenancy.find_user(db, "ALICE ") or ("", {})
    assert user_id == alice and tenancy.verify_password(
        user["password_hash"], "correct horse battery"
    )
    assert not tenancy.verify_password(user["password_hash"], "wrong password")
    assert "correct horse" not in user["password_hash"]
    db.collection("posts").document("p1").set({"workspace_id": ws, "text": "hi"})
    assert tenancy.scoped_get(db, "posts", ws, "p1")["text"] == "hi"
    assert tenancy.scoped_get(db, "posts", "other-ws", "p1") is None
    assert [m.workspace_id for m in tenancy.workspaces_of(db, alice)] == [ws]


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[Any, Any, datetime]]] = []
    done = threading.Event()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.headers, body, datetime.now(UTC)))
        self.send_response(200)
        self.end_headers()
        type(self).done.set()

    def log_message(self, *args: Any) -> None:
        pass


def test_enqueue_reaches_a_worker_through_the_tasks_emulator(emulators, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    settings = make_settings(
        emulators, tmp_path, project_id="herald-test", function_urls={"post_tweet": url}
    )
    enqueuer = CloudTasksEnqueuer(settings)
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    name = enqueuer.enqueue(TaskSpec("tweets", "post_tweet", {"post_id": "p1"}, schedule_time=due))
    assert "/queues/herald-tweets/tasks/" in name
    assert _Recorder.done.wait(15)
    server.shutdown()
    headers, body, at = _Recorder.received[0]
    assert body == {"post_id": "p1"}
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CloudTasks-QueueName"].endswith("herald-tweets")
    assert at >= due - timedelta(milliseconds=50)  # honours schedule_time


def test_production_tasks_carry_oidc_and_content_type() -> None:
    from shared.settings import Settings

    s = Settings(
        env="production", project_id="p", tasks_service_account="tasks@p.iam.gserviceaccount.com"
    )
    task = CloudTasksEnqueuer(s).build_task(
        TaskSpec("emails", "send_email", {"batch_id": "b1"}, task_id="b1")
    )
    req = task["http_request"]
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["oidc_token"] == {
        "service_account_email": "tasks@p.iam.gserviceaccount.com",
        "audience": "https://europe-west1-p.cloudfunctions.net/send_email",
    }
    assert task["name"] == "projects/p/locations/europe-west1/queues/herald-emails/tasks/b1"
    with pytest.raises(ValueError, match="timezone"):
        CloudTasksEnqueuer(s).build_task(
            TaskSpec("emails", "send_email", {}, schedule_time=datetime(2026, 1, 1))
        )


def test_log_level_filters_below_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_LOG_LEVEL", "WARNING")
    out = io.StringIO()
    log = Logger("t", stream=out)
    log.info("quiet")
    log.warning("loud")
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["loud"]


def test_batch_writes_answer_each_write_on_its_own(runtime: Runtime) -> None:
    """One BatchWrite: each write applied or refused by itself, outcomes in order."""
    from shared.batch_writes import (
        ALREADY_EXISTS,
        FAILED_PRECONDITION,
        MAX_WRITES,
        NOT_FOUND,
        Write,
        apply_each,
    )

    col = runtime.db.collection("rows")
    for name in ("fresh", "changed", "taken"):
        col.document(name).set({"n": 0})
    snaps = {s.id: s for s in col.stream()}
    col.document("changed").update({"n": 1})  # after the snapshot: its guard fails
    guarded = {
        k: Write(s.reference, {"n": 2}, last_update_time=s.update_time) for k, s in snaps.items()
    }
    outcomes = apply_each(
        runtime.db,
        [
            guarded["fresh"],
            guarded["changed"],
            Write(col.document("missing"), {"n": 2}),
            Write(col.document("taken"), {"n": 2}, op="create"),
            Write(col.document("new"), {"n": 2}, op="create"),
        ],
    )
    assert [o.code for o in outcomes] == [0, FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS, 0]
    assert outcomes[0].update_time is not None and outcomes[1].update_time is None
    assert {s.id: s.get("n") for s in col.stream()} == {
        "fresh": 2,
        "changed": 1,
        "taken": 0,
        "new": 2,
    }
    with pytest.raises(ValueError, match="at most"):
        apply_each(runtime.db, [Write(col.document(f"d{i}"), {}) for i in range(MAX_WRITES + 1)])
