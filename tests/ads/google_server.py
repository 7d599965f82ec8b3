"""A local TLS gRPC server speaking the Google Ads API with the SDK's own message classes.

Servicers are grpc generic handlers whose (de)serializers are the proto-plus request and
response classes' `deserialize` / `serialize`, so the real GoogleAdsClient talks to it
exactly as to Google (TLS, metadata, interceptors, error translation). It keeps the
objects it "created", answers the GAQL lookups the publisher makes, and can be told to
fail a method (RESOURCE_EXHAUSTED with a retry delay, UNAVAILABLE, or an unknown
outcome: create, then fail).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

VERSION = "v26"
PKG = f"google.ads.googleads.{VERSION}.services"
FAILURE_KEY = f"google.ads.googleads.{VERSION}.errors.googleadsfailure-bin"

# service -> method -> (request type, response type, collection in the resource name)
MUTATES = {
    "CampaignBudgetService": (
        "MutateCampaignBudgets", "campaignBudgets", "MutateCampaignBudgetResult"
    ),
    "CampaignService": ("MutateCampaigns", "campaigns", "MutateCampaignResult"),
    "CampaignCriterionService": (
        "MutateCampaignCriteria", "campaignCriteria", "MutateCampaignCriterionResult"
    ),
    "AdGroupService": ("MutateAdGroups", "adGroups", "MutateAdGroupResult"),
    "AdGroupCriterionService": (
        "MutateAdGroupCriteria", "adGroupCriteria", "MutateAdGroupCriterionResult"
    ),
    "AdGroupAdService": ("MutateAdGroupAds", "adGroupAds", "MutateAdGroupAdResult"),
}  # fmt: skip


def self_signed_cert(directory: Path) -> tuple[bytes, bytes, Path]:
    """The SMTP tests' self-signed localhost certificate; returns key, cert, cert path."""
    from tests.email.conftest import make_cert

    cert_path, key_path = make_cert(directory)
    return key_path.read_bytes(), cert_path.read_bytes(), cert_path


@dataclass
class Failure:
    code: grpc.StatusCode
    retry_seconds: int = 0
    after_apply: bool = False  # apply the mutation, then fail (an unknown outcome)


@dataclass
class FakeGoogleAds:
    client: Any  # a GoogleAdsClient, for its message classes
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource name -> fields
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (method, request)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 1000

    def fail_next(self, method: str, failure: Failure) -> None:
        self.failures.setdefault(method, []).append(failure)

    def mutations(self, method: str) -> list[Any]:
        return [req for m, req in self.calls if m == method]

    def reset(self) -> None:
        self.objects.clear()
        self.calls.clear()
        self.failures.clear()

    # -- errors -----------------------------------------------------------------------

    def _abort(self, context: Any, failure: Failure) -> None:
        if failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            gaf = self.client.get_type("GoogleAdsFailure")
            error = self.client.get_type("GoogleAdsError")
            from google.ads.googleads.v26.errors.types.quota_error import QuotaErrorEnum

            error.error_code.quota_error = QuotaErrorEnum.QuotaError.RESOURCE_EXHAUSTED
            error.message = "Too many requests. Retry in 42 seconds."
            # proto-plus maps google.protobuf.Duration to datetime.timedelta.
            error.details.quota_error_details.retry_delay = dt.timedelta(
                seconds=failure.retry_seconds
            )
            gaf.errors.append(error)
            context.set_trailing_metadata(((FAILURE_KEY, type(gaf).serialize(gaf)),))
        context.abort(failure.code, f"injected {failure.code.name}")

    # -- mutations --------------------------------------------------------------------

    def _mutate(
        self, method: str, collection: str, result_type: str, request: Any, context: Any
    ) -> Any:
        with self.lock:
            self.calls.append((method, request))
            pending = self.failures.get(method) or []
            failure = pending.pop(0) if pending else None
        if failure and not failure.after_apply:
            self._abort(context, failure)
        response = self.client.get_type(f"{method}Response")
        for op in request.operations:
            kind = op._pb.WhichOneof("operation")
            if kind == "create":
                with self.lock:
                    self.counter += 1
                    rn = f"customers/{request.customer_id}/{collection}/{self.counter}"
                    self.objects[rn] = {"collection": collection, "message": op.create}
            else:
                target = op.remove if kind == "remove" else op.update.resource_name
                rn = target
                with self.lock:
                    if kind == "remove":
                        self.objects[rn]["removed"] = True
                    else:
                        self.objects[rn]["status"] = op.update.status
            result = self.client.get_type(result_type)
            result.resource_name = rn
            response.results.append(result)
        if failure:
            self._abort(context, failure)
        return response

    # -- search -----------------------------------------------------------------------

    def _search(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.calls.append(("Search", request))
            pending = self.failures.get("Search") or []
            failure = pending.pop(0) if pending else None
        if failure:
            self._abort(context, failure)
        query = request.query
        response = self.client.get_type("SearchGoogleAdsResponse")
        frm = re.search(r"FROM (\w+)", query).group(1)  # type: ignore[union-attr]
        name = re.search(r"\.name = '((?:[^'\\]|\\.)*)'", query)
        parent = re.search(r"(campaign|ad_group)\.resource_name = '([^']*)'", query)
        collection = {
            "campaign_budget": "campaignBudgets",
            "campaign": "campaigns",
            "ad_group": "adGroups",
            "campaign_criterion": "campaignCriteria",
            "ad_group_criterion": "adGroupCriteria",
            "ad_group_ad": "adGroupAds",
        }[frm]
        if "metrics." in query:
            row = self.client.get_type("GoogleAdsRow")
            row.segments.date = re.search(r"BETWEEN '([\d-]+)'", query).group(1)  # type: ignore[union-attr]
            row.metrics.impressions = 2000
            row.metrics.clicks = 50
            row.metrics.cost_micros = 37_500_000
            response.results.append(row)
            return response
        for rn, obj in list(self.objects.items()):
            if obj["collection"] != collection or obj.get("removed"):
                continue
            msg = obj["message"]
            if name and msg.name != name.group(1).replace("\\'", "'"):
                continue
            if parent and frm != "campaign":
                link = msg.campaign if parent.group(1) == "campaign" else msg.ad_group
                if link != parent.group(2):
                    continue
            row = self.client.get_type("GoogleAdsRow")
            getattr(row, frm).resource_name = rn
            response.results.append(row)
        return response

    # -- server -----------------------------------------------------------------------

    def handlers(self) -> list[Any]:
        out = []
        for service, (method, collection, result_type) in MUTATES.items():
            req_cls = type(self.client.get_type(f"{method}Request"))
            resp_cls = type(self.client.get_type(f"{method}Response"))

            def handler(
                request: Any,
                context: Any,
                m: str = method,
                c: str = collection,
                r: str = result_type,
            ) -> Any:
                return self._mutate(m, c, r, request, context)

            rpc = grpc.unary_unary_rpc_method_handler(
                handler,
                request_deserializer=req_cls.deserialize,
                response_serializer=resp_cls.serialize,
            )
            out.append(grpc.method_handlers_generic_handler(f"{PKG}.{service}", {method: rpc}))
        search = grpc.unary_unary_rpc_method_handler(
            self._search,
            request_deserializer=type(self.client.get_type("SearchGoogleAdsRequest")).deserialize,
            response_serializer=type(self.client.get_type("SearchGoogleAdsResponse")).serialize,
        )
        out.append(
            grpc.method_handlers_generic_handler(f"{PKG}.GoogleAdsService", {"Search": search})
        )
        return out


def start(fake: FakeGoogleAds, key_pem: bytes, cert_pem: bytes) -> tuple[Any, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    for h in fake.handlers():
        server.add_generic_rpc_handlers((h,))
    port = server.add_secure_port("localhost:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    return server, port
