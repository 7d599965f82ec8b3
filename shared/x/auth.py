"""The account's X API in user context, whichever way it was connected.

OAuth 1.0a accounts sign with the app's consumer pair and their token pair; OAuth 2.0
accounts send their user access token (refreshed when due, shared.x.tokens). Every
X call the pipelines make for an account goes through here (posting, reconciliation,
metrics, trends), so both kinds work everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.x import tokens
from shared.x.accounts import account_tokens, consumer_credentials
from shared.x.models import XAccount

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.x.client import TweepyX


def user_api(
    runtime: Runtime, account: XAccount, sleep: Callable[[float], None] = time.sleep
) -> TweepyX:
    """The account's X client (raises HeraldError / SecretNotFound when it has no
    usable credentials, LineageLost when its OAuth 2.0 tokens are gone)."""
    from shared.x.client import TweepyX

    base = runtime.settings.x_api_base
    if account.auth == "oauth2":
        token = tokens.access_token(runtime, account)
        return TweepyX.with_user_token(token, account.x_user_id, sleep, api_base=base)
    key, secret = consumer_credentials(runtime)
    token, token_secret = account_tokens(runtime, account)
    return TweepyX(key, secret, token, token_secret, account.x_user_id, sleep, api_base=base)


def user_client(runtime: Runtime, account: XAccount) -> tuple[Any, bool]:
    """A tweepy Client for the account, and the `user_auth` its calls need (tweepy signs
    with OAuth 1.0a when True, sends the bearer token when False)."""
    api = user_api(runtime, account)
    return api.client, api.user_auth
