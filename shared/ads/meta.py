"""Meta (Facebook / Instagram) job ads through facebook-business.

Imported only on the Meta publishing path (the SDK costs ~250 ms to import). Objects:
campaign (special_ad_categories=["EMPLOYMENT"] and the country) -> ad set (daily budget,
employment-safe targeting, re-checked by shared.ads.targeting.check_meta_spec) ->
creative (link ad with an Apply Now button) -> ad. Rate limits (error codes 4, 17, 32,
613, 80000-80014; usage headers) become RateLimited with the wait Meta asks for.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError

from shared.ads.plans import META_STATUS, META_STEPS, NO_IMAGE, meta_params, object_name
from shared.ads.platform import PublishContext, RateLimited, Refused, Transient
from shared.ads.targeting import check_meta_spec

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80000, 80015))
DEFAULT_WAIT_S = 300.0  # Meta's throttles usually lift within minutes
USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage")
INSIGHT_FIELDS = ["date_start", "impressions", "clicks", "spend", "ctr", "cpc"]


def _wait_from_usage(value: Any) -> float:
    """Seconds to wait from one usage header's JSON (any nesting), 0 if none given."""
    best = 0.0
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "estimated_time_to_regain_access" and isinstance(item, int | float):
                best = max(best, float(item) * 60)  # Meta gives minutes
            elif key == "reset_time_in_seconds" and isinstance(item, int | float):
                best = max(best, float(item))
            else:
                best = max(best, _wait_from_usage(item))
    elif isinstance(value, list):
        for item in value:
            best = max(best, _wait_from_usage(item))
    return best


def retry_after(headers: Any) -> float:
    wait = 0.0
    for name in USAGE_HEADERS:
        raw = None
        if headers is not None:
            raw = headers.get(name) or headers.get(name.title())
        if raw:
            try:
                wait = max(wait, _wait_from_usage(json.loads(raw)))
            except (TypeError, ValueError):
                continue
    return wait or DEFAULT_WAIT_S


def translate(exc: FacebookRequestError) -> Exception:
    code = exc.api_error_code()
    if code in RATE_LIMIT_CODES:
        return RateLimited(
            f"Meta rate limit (code {code}): {exc.api_error_message()}",
            retry_after(exc.http_headers()),
        )
    status = exc.http_status() or 0
    if exc.api_transient_error() or status >= 500 or code in (1, 2):
        return Transient(f"Meta temporary error {code}: {exc.api_error_message()}")
    body = exc.body() if isinstance(exc.body(), dict) else {}
    user_msg = (body.get("error") or {}).get("error_user_msg")
    detail = f"{exc.api_error_message()}" + (f" ({user_msg})" if user_msg else "")
    return Refused(f"Meta refused the request (code {code}): {detail}")


class MetaAdapter:
    platform = "meta"
    steps: tuple[str, ...] = META_STEPS
    sandbox = False

    def __init__(
        self,
        credentials: dict[str, str],
        account: dict[str, Any],
        load_image: Callable[[str], bytes] | None = None,
    ) -> None:
        self._load_image = load_image
        # crash_log=False: otherwise the SDK replaces sys.excepthook and reports to Meta.
        self._api = FacebookAdsApi.init(
            access_token=credentials["access_token"], crash_log=False, timeout=30
        )
        self._account = AdAccount(f"act_{account['account_id']}", api=self._api)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FacebookRequestError as exc:
            raise translate(exc) from exc
        except requests.RequestException as exc:
            raise Transient(f"Meta unreachable: {type(exc).__name__}: {exc}") from exc

    def _lister(self, step: str) -> Any:
        return {
            "campaign": self._account.get_campaigns,
            "adset": self._account.get_ad_sets,
            "creative": self._account.get_ad_creatives,
            "ad": self._account.get_ads,
        }[step]

    def find(self, step: str, ctx: PublishContext) -> str | None:
        if step == "image":
            return None  # Meta keys images by content hash: uploading again is harmless
        name = object_name(ctx, step)
        params = {"filtering": [{"field": "name", "operator": "EQUAL", "value": name}], "limit": 25}
        cursor = self._call(self._lister(step), fields=["id", "name"], params=params)
        for obj in self._call(list, cursor):
            if obj.get("name") == name:  # the filter is advisory on some edges
                return str(obj["id"])
        return None

    def create(self, step: str, ctx: PublishContext) -> str:
        params = meta_params(step, ctx)
        if step == "image":
            return self._upload_image(params)
        if step == "adset":
            check_meta_spec(params["targeting"])
        creator = {
            "campaign": self._account.create_campaign,
            "adset": self._account.create_ad_set,
            "creative": self._account.create_ad_creative,
            "ad": self._account.create_ad,
        }[step]
        obj = self._call(creator, params=params)
        return str(obj["id"])

    def _upload_image(self, params: dict[str, Any]) -> str:
        if not params["image_ref"] or self._load_image is None:
            return NO_IMAGE
        data = self._load_image(params["image_ref"])
        image = self._call(
            self._account.create_ad_image,
            params={"bytes": base64.b64encode(data).decode(), "name": params["name"]},
        )
        return str(image["hash"])

    def set_status(self, ctx: PublishContext, status: str) -> None:
        campaign = Campaign(ctx.ids["campaign"], api=self._api)
        self._call(campaign.api_update, params={"status": META_STATUS[status]})

    def insights(self, ctx: PublishContext, since: str, until: str) -> list[dict[str, Any]]:
        campaign = Campaign(ctx.ids["campaign"], api=self._api)
        cursor = self._call(
            campaign.get_insights,
            fields=INSIGHT_FIELDS,
            params={"time_range": {"since": since, "until": until}, "time_increment": 1},
        )
        rows = []
        for row in self._call(list, cursor):
            rows.append(
                {
                    "date": row["date_start"],
                    "impressions": int(row.get("impressions", 0)),
                    "clicks": int(row.get("clicks", 0)),
                    "spend": float(row.get("spend", 0)),
                    "ctr": float(row.get("ctr", 0)) / 100,  # Meta reports a percentage
                    "cpc": float(row.get("cpc", 0)),
                }
            )
        return rows
