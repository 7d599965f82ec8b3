"""`herald user add` creates the first owner, who can then sign in through the API."""

from __future__ import annotations

import json

import pytest

from local.cli import main
from tests.api.conftest import Api


def test_user_add_creates_an_owner_who_can_sign_in(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_NEW_PASSWORD", "first owner pw")
    assert (
        main(["user", "add", "Founder", "--workspace", "Acme", "--timezone", "Europe/Paris"]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    token = api.login("founder", "first owner pw")
    me = api.call("GET", "/auth/me", token).get_json()
    assert me["user"]["id"] == created["user_id"]
    assert me["workspaces"][0]["role"] == "owner"
    assert me["workspaces"][0]["timezone"] == "Europe/Paris"
    # A second account with the same name is refused with a clear message.
    assert main(["user", "add", "founder"]) == 1
    assert "taken" in capsys.readouterr().err


def test_user_add_asks_twice_when_typed(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HERALD_NEW_PASSWORD", raising=False)
    answers = iter(["first owner pw", "first owner pX"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["user", "add", "typo"]) == 1
    assert "differ" in capsys.readouterr().err
    r = api.call("POST", "/auth/login", json={"username": "typo", "password": "first owner pw"})
    assert r.status_code == 401  # nothing was created


def test_user_add_without_a_workspace_then_an_invitation(
    api: Api, owner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token, ws = owner
    monkeypatch.setenv("HERALD_NEW_PASSWORD", "new colleague pw")
    assert main(["user", "add", "colleague", "--no-workspace"]) == 0
    assert json.loads(capsys.readouterr().out)["workspace_id"] is None
    theirs = api.login("colleague", "new colleague pw")
    assert api.call("GET", "/workspaces", theirs).get_json() == []
    r = api.call("POST", f"/workspaces/{ws}/invitations", token, json={"username": "colleague"})
    [invitation] = api.call("GET", "/invitations", theirs).get_json()["items"]
    assert invitation["id"] == r.get_json()["id"]
    assert api.call("POST", f"/invitations/{invitation['id']}/accept", theirs).status_code == 200
    assert [w["id"] for w in api.call("GET", "/workspaces", theirs).get_json()] == [ws]
