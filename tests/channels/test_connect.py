"""Connecting Bluesky (app password) and Mastodon (OAuth) accounts, and sandbox channels."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import responses

from shared.errors import ValidationError
from shared.x import service
from shared.x.connect import begin_mastodon, complete_mastodon, connect_bluesky
from tests.channels.conftest import INSTANCE
from tests.channels.fake_pds import APP_PASSWORD, DID, HANDLE


def test_bluesky_app_password_connects_and_a_wrong_one_is_refused(runtime, pds) -> None:
    account = connect_bluesky(
        runtime, "ws1", "@" + HANDLE, APP_PASSWORD, "https://pds.test", transport=pds.transport
    )
    assert account["network"] == "bluesky" and account["x_user_id"] == DID
    assert account["limits"]["weighted_length"] == 300 and "secret_ref" not in account
    with pytest.raises(ValidationError, match="Invalid identifier or password"):
        connect_bluesky(
            runtime, "ws1", HANDLE, "wrong", "https://pds.test", transport=pds.transport
        )


def test_mastodon_oauth_reads_the_instance_limit(runtime, mastodon_api) -> None:
    callback = "http://127.0.0.1:8700/#/settings"
    mastodon_api.add(
        responses.POST, f"{INSTANCE}/api/v1/apps", json={"client_id": "cid", "client_secret": "cs"}
    )
    begun = begin_mastodon(runtime, "ws1", INSTANCE, callback)
    query = parse_qs(urlparse(begun["authorization_url"]).query)
    assert query["client_id"] == ["cid"] and query["state"] == [begun["state"]]
    mastodon_api.add(  # RFC 8414 metadata: Mastodon 4.3+ serves it, Mastodon.py reads it
        responses.GET,
        f"{INSTANCE}/.well-known/oauth-authorization-server",
        json={
            "issuer": f"{INSTANCE}/",
            "authorization_endpoint": f"{INSTANCE}/oauth/authorize",
            "token_endpoint": f"{INSTANCE}/oauth/token",
            "scopes_supported": ["read", "write"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
        },
    )
    mastodon_api.add(
        responses.POST,
        f"{INSTANCE}/oauth/token",
        json={"access_token": "tok", "scope": "read write"},
    )
    mastodon_api.add(
        responses.GET,
        f"{INSTANCE}/api/v1/accounts/verify_credentials",
        json={"id": "42", "acct": "herald", "display_name": "Herald"},
    )
    mastodon_api.add(
        responses.GET,
        f"{INSTANCE}/api/v2/instance/",
        json={
            "version": "4.3.2",
            "configuration": {
                "statuses": {"max_characters": 1000, "characters_reserved_per_url": 23}
            },
        },
    )
    account = complete_mastodon(runtime, "ws1", begun["state"], "the-code")
    assert account["handle"] == "herald@social.test" and account["network"] == "mastodon"
    assert account["limits"]["weighted_length"] == 1000
    token_call = next(c for c in mastodon_api.calls if c.request.url.endswith("/oauth/token"))
    assert "code=the-code" in str(token_call.request.body)
    with pytest.raises(Exception, match="unknown or was already used"):
        complete_mastodon(runtime, "ws1", begun["state"], "the-code")


def test_sandbox_channels_of_each_network(runtime) -> None:
    for network in ("x", "bluesky", "mastodon"):
        account = service.create_sandbox_account(runtime, "ws1", handle=network, network=network)
        assert account["network"] == network and account["sandbox"] is True
        assert account["display_name"] == f"Sandbox @{network}"
        assert account["pricing"]["post_usd"] == 0 or network == "x"
