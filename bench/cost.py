"""A monthly cost model on Google Cloud list prices for 10,000 posts and 1,000,000
emails, from the per-item figures measured by the precision and email benchmarks.

List prices (USD, Google Cloud price pages; free tiers ignored so the figure is an
upper bound): Firestore Standard multi-region reads $0.06 / 100k, writes $0.18 / 100k;
Cloud Tasks $0.40 / million operations; Cloud Run functions $0.40 / million requests,
$0.000024 / vCPU-second, $0.0000025 / GiB-second; Cloud Scheduler $0.10 / job / month.
"""

from __future__ import annotations

import json
from typing import Any

from bench.report import Figure, Reporter
from local.stack import Stack

PRICES = {
    "firestore_read": 0.06 / 100_000,
    "firestore_write": 0.18 / 100_000,
    "task": 0.40 / 1_000_000,
    "request": 0.40 / 1_000_000,
    "vcpu_s": 0.000024,
    "gib_s": 0.0000025,
    "scheduler_job_month": 0.10,
}
# A worker instance as deployed by infra/: 1 vCPU, 512 MiB.
VCPU, GIB = 1.0, 0.5
MONTH_TICKS = 60 * 24 * 30  # dispatch every minute


def monthly_cost(
    items: int, *, reads: float, writes: float, tasks: float, invocations: float, handler_s: float
) -> dict[str, float]:
    compute_s = items * invocations * handler_s
    parts = {
        "firestore": items
        * (reads * PRICES["firestore_read"] + writes * PRICES["firestore_write"]),
        "tasks": items * tasks * PRICES["task"],
        "functions": items * invocations * PRICES["request"]
        + compute_s * (VCPU * PRICES["vcpu_s"] + GIB * PRICES["gib_s"]),
    }
    parts["total"] = sum(parts.values())
    return parts


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    results: dict[str, float] = {}
    latest = context.get("latest")
    if latest is not None and latest.exists():
        results.update(json.loads(latest.read_text()))  # from earlier runs
    results.update(context["results"])  # this run's figures win
    base = MONTH_TICKS * (
        PRICES["request"] + 0.2 * (VCPU * PRICES["vcpu_s"] + GIB * PRICES["gib_s"])
    )
    # What every tick reads and writes whatever is due (the per-item figures are net of it).
    base += MONTH_TICKS * (
        results.get("dispatch_fixed_reads_per_tick", 0.0) * PRICES["firestore_read"]
        + results.get("dispatch_fixed_writes_per_tick", 0.0) * PRICES["firestore_write"]
    )
    base += 2 * PRICES["scheduler_job_month"]
    reporter.add(
        Figure(
            "monthly_cost_usd_baseline",
            base,
            "USD",
            note="dispatch every minute (its fixed reads and writes included) + 2 scheduler "
            "jobs, no traffic",
        )
    )
    if "firestore_reads_per_post" in results:
        posts = monthly_cost(
            10_000,
            # The publish path and dispatch's metrics discovery, which reads every post.
            reads=results["firestore_reads_per_post"]
            + results.get("metrics_discovery_reads_per_post", 0.0),
            writes=results["firestore_writes_per_post"]
            + results.get("metrics_discovery_writes_per_post", 0.0),
            tasks=results.get("tasks_per_post", 1.0),
            invocations=results.get("tasks_per_post", 1.0),
            handler_s=results.get("post_handler_s", 0.5),
        )
        reporter.add(
            Figure(
                "monthly_cost_usd_10k_posts",
                posts["total"],
                "USD",
                note=", ".join(f"{k} {v:.4f}" for k, v in posts.items() if k != "total"),
            )
        )
    if "firestore_reads_per_email" in results:
        emails = monthly_cost(
            1_000_000,
            reads=results["firestore_reads_per_email"],
            writes=results["firestore_writes_per_email"],
            tasks=results.get("tasks_per_email", 0.02),
            invocations=results.get("tasks_per_email", 0.02),
            handler_s=results.get("email_batch_handler_s", 5.0) / 50,
        )
        reporter.add(
            Figure(
                "monthly_cost_usd_1m_emails",
                emails["total"],
                "USD",
                note=", ".join(f"{k} {v:.4f}" for k, v in emails.items() if k != "total"),
            )
        )
