# GAQL queries below are built from ids we created and names quoted by _quote (S608).
# ruff: noqa: S608
"""Google Ads job ads through google-ads (gRPC).

Imported only on the Google publishing path: the SDK is large and its first
`get_service` costs over a second. Objects: campaign budget -> Search campaign
(paused until everything exists) -> location criteria -> ad group -> phrase keywords
-> responsive search ad. Targeting is locations and keywords only: nothing by age,
gender, parental status, income or postal code (employment-ad restrictions).
RESOURCE_EXHAUSTED becomes RateLimited with the retry delay Google sends.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException

from shared.ads.plans import GOOGLE_STATUS, GOOGLE_STEPS, google_plan, object_name
from shared.ads.platform import PublishContext, RateLimited, Refused, Transient

DEFAULT_WAIT_S = 60.0
# Well under the publisher's claim lease (3 min): a call still running when another
# delivery takes the step over would otherwise race its lookup.
CALL_TIMEOUT_S = 60.0
TRANSIENT_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
)


def make_client(
    credentials: dict[str, str], account: dict[str, Any], endpoint: str | None = None
) -> GoogleAdsClient:
    from google.oauth2.credentials import Credentials

    creds = Credentials(
        token=None,
        refresh_token=credentials["refresh_token"],
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        token_uri="https://oauth2.googleapis.com/token",  # noqa: S106 - a URL, not a secret
    )
    return GoogleAdsClient(
        credentials=creds,
        developer_token=credentials["developer_token"],
        login_customer_id=account.get("login_customer_id"),
        endpoint=endpoint,
        use_proto_plus=True,
    )


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class GoogleAdapter:
    platform = "google"
    steps: tuple[str, ...] = GOOGLE_STEPS
    sandbox = False

    def __init__(self, client: GoogleAdsClient, customer_id: str) -> None:
        self._client = client
        self._customer = customer_id
        self._failure_type: Any = None

    # -- errors -----------------------------------------------------------------------

    def _retry_delay(self, metadata: Any) -> float:
        """Seconds from the GoogleAdsFailure's quota_error_details.retry_delay, if sent."""
        key = f"google.ads.googleads.{self._client.version or 'v26'}.errors.googleadsfailure-bin"
        failure_cls = type(self._client.get_type("GoogleAdsFailure"))
        for name, value in metadata or ():
            if name != key:
                continue
            try:
                failure = failure_cls.deserialize(value)
            except Exception:  # a garbled detail must not turn a deferral into a failure
                return DEFAULT_WAIT_S
            for error in failure.errors:
                # proto-plus gives google.protobuf.Duration as a datetime.timedelta.
                delay = error.details.quota_error_details.retry_delay
                seconds = delay.total_seconds() if delay else 0
                if seconds:
                    return float(seconds)
        return DEFAULT_WAIT_S

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return fn(**kwargs)
        except GoogleAdsException as exc:
            messages = "; ".join(e.message for e in exc.failure.errors) or str(exc.error)
            raise Refused(
                f"Google Ads refused the request: {messages} (request {exc.request_id})"
            ) from exc
        except (gexc.GoogleAPICallError, grpc.RpcError) as exc:
            # The generated clients wrap gRPC errors in google.api_core exceptions; the
            # SDK leaves RESOURCE_EXHAUSTED and INTERNAL untranslated, so both shapes occur.
            call: Any = exc.response if isinstance(exc, gexc.GoogleAPICallError) else exc
            code = getattr(exc, "grpc_status_code", None)
            if code is None and isinstance(call, grpc.Call):
                code = call.code()
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                metadata = call.trailing_metadata() if isinstance(call, grpc.Call) else ()
                raise RateLimited(
                    f"Google Ads quota exhausted: {exc}", self._retry_delay(metadata)
                ) from exc
            if code in TRANSIENT_CODES or code is None:
                raise Transient(f"Google Ads temporary error {code}: {exc}") from exc
            raise Refused(f"Google Ads error {code}: {exc}") from exc

    # -- reads ------------------------------------------------------------------------

    def _search(self, query: str) -> list[Any]:
        service = self._client.get_service("GoogleAdsService")
        rows = self._call(
            service.search, customer_id=self._customer, query=query, timeout=CALL_TIMEOUT_S
        )
        return list(rows)

    def find(self, step: str, ctx: PublishContext) -> str | None:
        name = _quote(object_name(ctx, step))
        queries = {
            "budget": "SELECT campaign_budget.resource_name FROM campaign_budget "
            f"WHERE campaign_budget.name = {name}",
            "campaign": "SELECT campaign.resource_name FROM campaign "
            f"WHERE campaign.name = {name} AND campaign.status != 'REMOVED'",
            "ad_group": "SELECT ad_group.resource_name FROM ad_group "
            f"WHERE ad_group.name = {name} AND ad_group.status != 'REMOVED'",
        }
        if step in queries:
            rows = self._search(queries[step])
            if not rows:
                return None
            entity = {"budget": "campaign_budget"}.get(step, step)
            return str(getattr(rows[0], entity).resource_name)
        # Criteria and the ad have no name: their parent is ours, so any child is ours.
        parent_queries = {
            "geo": "SELECT campaign_criterion.resource_name FROM campaign_criterion WHERE "
            f"campaign.resource_name = {_quote(ctx.ids.get('campaign', ''))} "
            "AND campaign_criterion.type = 'LOCATION'",
            "keywords": "SELECT ad_group_criterion.resource_name FROM ad_group_criterion "
            f"WHERE ad_group.resource_name = {_quote(ctx.ids.get('ad_group', ''))} "
            "AND ad_group_criterion.type = 'KEYWORD'",
            "ad": "SELECT ad_group_ad.resource_name FROM ad_group_ad WHERE "
            f"ad_group.resource_name = {_quote(ctx.ids.get('ad_group', ''))}",
        }
        rows = self._search(parent_queries[step])
        if not rows:
            return None
        attr = {"geo": "campaign_criterion", "keywords": "ad_group_criterion", "ad": "ad_group_ad"}
        names = [str(getattr(r, attr[step]).resource_name) for r in rows]
        return names[0] if step == "ad" else ",".join(names)

    # -- writes -----------------------------------------------------------------------

    def _mutate(self, service_name: str, method: str, operations: list[Any]) -> list[str]:
        service = self._client.get_service(service_name)
        response = self._call(
            getattr(service, method),
            customer_id=self._customer,
            operations=operations,
            timeout=CALL_TIMEOUT_S,
        )
        return [str(r.resource_name) for r in response.results]

    def create(self, step: str, ctx: PublishContext) -> str:
        plan = google_plan(step, ctx)
        c, enums = self._client, self._client.enums
        if step == "budget":
            op = c.get_type("CampaignBudgetOperation")
            b = op.create
            b.name = plan["name"]
            b.amount_micros = plan["amount_micros"]
            b.delivery_method = enums.BudgetDeliveryMethodEnum.STANDARD
            b.explicitly_shared = False
            return self._mutate("CampaignBudgetService", "mutate_campaign_budgets", [op])[0]
        if step == "campaign":
            op = c.get_type("CampaignOperation")
            cp = op.create
            cp.name = plan["name"]
            cp.campaign_budget = plan["campaign_budget"]
            cp.advertising_channel_type = enums.AdvertisingChannelTypeEnum.SEARCH
            cp.status = enums.CampaignStatusEnum.PAUSED
            cp.manual_cpc.enhanced_cpc_enabled = False
            cp.network_settings.target_google_search = plan["network"]["google_search"]
            cp.network_settings.target_search_network = plan["network"]["search_network"]
            cp.network_settings.target_content_network = plan["network"]["content_network"]
            if plan.get("start_date_time"):
                cp.start_date_time = plan["start_date_time"]
            if plan.get("end_date_time"):
                cp.end_date_time = plan["end_date_time"]
            cp.contains_eu_political_advertising = (
                enums.EuPoliticalAdvertisingStatusEnum.DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING
            )
            return self._mutate("CampaignService", "mutate_campaigns", [op])[0]
        if step == "geo":
            ops = []
            for target in plan["geo_target_constants"]:
                op = c.get_type("CampaignCriterionOperation")
                op.create.campaign = plan["campaign"]
                op.create.location.geo_target_constant = target
                ops.append(op)
            names = self._mutate("CampaignCriterionService", "mutate_campaign_criteria", ops)
            return ",".join(names)
        if step == "ad_group":
            op = c.get_type("AdGroupOperation")
            g = op.create
            g.name = plan["name"]
            g.campaign = plan["campaign"]
            g.type_ = enums.AdGroupTypeEnum.SEARCH_STANDARD
            g.status = enums.AdGroupStatusEnum.ENABLED
            g.cpc_bid_micros = plan["cpc_bid_micros"]
            return self._mutate("AdGroupService", "mutate_ad_groups", [op])[0]
        if step == "keywords":
            ops = []
            for kw in plan["keywords"]:
                op = c.get_type("AdGroupCriterionOperation")
                op.create.ad_group = plan["ad_group"]
                op.create.status = enums.AdGroupCriterionStatusEnum.ENABLED
                op.create.keyword.text = kw["text"]
                op.create.keyword.match_type = enums.KeywordMatchTypeEnum.PHRASE
                ops.append(op)
            names = self._mutate("AdGroupCriterionService", "mutate_ad_group_criteria", ops)
            return ",".join(names)
        if step == "ad":
            op = c.get_type("AdGroupAdOperation")
            aga = op.create
            aga.ad_group = plan["ad_group"]
            aga.status = enums.AdGroupAdStatusEnum.ENABLED
            aga.ad.final_urls.extend(plan["final_urls"])
            for text in plan["headlines"]:
                asset = c.get_type("AdTextAsset")
                asset.text = text
                aga.ad.responsive_search_ad.headlines.append(asset)
            for text in plan["descriptions"]:
                asset = c.get_type("AdTextAsset")
                asset.text = text
                aga.ad.responsive_search_ad.descriptions.append(asset)
            return self._mutate("AdGroupAdService", "mutate_ad_group_ads", [op])[0]
        raise ValueError(f"unknown Google Ads step {step!r}")

    def set_status(self, ctx: PublishContext, status: str) -> None:
        op = self._client.get_type("CampaignOperation")
        if status == "archived":
            op.remove = ctx.ids["campaign"]  # Google has no "archived": removal is final
        else:
            op.update.resource_name = ctx.ids["campaign"]
            op.update.status = getattr(self._client.enums.CampaignStatusEnum, GOOGLE_STATUS[status])
            op.update_mask.paths.append("status")
        self._mutate("CampaignService", "mutate_campaigns", [op])

    def insights(self, ctx: PublishContext, since: str, until: str) -> list[dict[str, Any]]:
        query = (
            "SELECT segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros "
            f"FROM campaign WHERE campaign.resource_name = {_quote(ctx.ids['campaign'])} "
            f"AND segments.date BETWEEN '{since}' AND '{until}'"
        )
        out = []
        for row in self._search(query):
            impressions, clicks = int(row.metrics.impressions), int(row.metrics.clicks)
            spend = row.metrics.cost_micros / 1_000_000
            out.append(
                {
                    "date": row.segments.date,
                    "impressions": impressions,
                    "clicks": clicks,
                    "spend": round(spend, 6),
                    "ctr": clicks / impressions if impressions else 0.0,
                    "cpc": round(spend / clicks, 6) if clicks else 0.0,
                }
            )
        return out
