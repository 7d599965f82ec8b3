"""Fixtures for the ads tests: an open job opening, connected accounts, a campaign."""

from __future__ import annotations

import pytest

from shared.ads import service
from shared.http import TaskContext
from shared.jobs import service as jobs

WS = "ws-ads"


def task_ctx(retry: int = 0) -> TaskContext:
    return TaskContext(task_name="t", queue_name="q", retry_count=retry, execution_count=retry)


def opening_body(**extra):
    return {
        "title": "Data Engineer",
        "company": "Acme",
        "location": {"country": "US", "city": "Austin"},
        "salary_min": 100000,
        "salary_max": 130000,
        "salary_currency": "USD",
        "salary_period": "year",
        "description": "Pipelines and warehouses.",
        "apply_url": "https://jobs.example.com/de",
        "status": "open",
        **extra,
    }


@pytest.fixture
def opening(runtime):
    return jobs.create_opening(runtime, WS, opening_body())


def make_campaign(runtime, opening, platforms, **extra):
    body = {
        "opening_id": opening["id"],
        "platforms": platforms,
        "daily_budget": 40,
        "targeting": {
            "countries": ["US"],
            "cities": [{"name": "Austin", "radius_miles": 25, "meta_key": "2430536",
                        "google_geo_target": "1026201"}],
            "keywords": ["data engineer", "spark"],
        },
        **extra,
    }  # fmt: skip
    campaign = service.create_campaign(runtime, WS, body)
    service.publish_campaign(runtime, WS, campaign["id"])
    return campaign["id"]
