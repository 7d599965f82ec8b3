"""The identity Cloud Build builds the functions with: a dedicated account on every
function's build_config, holding what a 2nd gen build needs and nothing more.

A 2nd gen build fetches the zip from Google's own staging bucket
gcf-v2-sources-<project number>-<region> (Cloud Functions copies build_config's
storage_source there first); without object read on it every build fails with "Access to
bucket gcf-v2-sources-... denied" (hashicorp/terraform-provider-google#20571)."""

from __future__ import annotations

import re
from typing import Any

from tests.infra import hcl

MODULE = hcl.INFRA / "modules" / "function"
BUILD = "${google_service_account.build.member}"


def _grants() -> list[hcl.Block]:
    """Every IAM member resource granted to the build account."""
    return [
        b
        for b in hcl.blocks(hcl.INFRA)
        if b.type.endswith("_iam_member") and b.body.get("member") == BUILD
    ]


def _one(body: Any) -> dict[str, Any]:
    return body[0] if isinstance(body, list) else body  # type: ignore[no-any-return]


def test_every_function_builds_with_the_dedicated_account() -> None:
    call = hcl.module_calls()["function"]
    assert call["build_service_account"] == "${google_service_account.build.id}"
    assert call["docker_repository"] == "${google_artifact_registry_repository.functions.id}"
    fn = hcl.resources("google_cloudfunctions2_function", MODULE)[0]
    build = _one(fn.body["build_config"])
    assert build["service_account"] == "${var.build_service_account}"
    assert build["docker_repository"] == "${var.docker_repository}"
    # Required: a call that forgets it cannot fall back to the project's default account.
    assert "default" not in hcl.variables(MODULE)["build_service_account"]


def test_build_account_reads_the_gcf_staging_bucket() -> None:
    staging = hcl.locals_()["gcf_staging_bucket"]
    assert staging == "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
    readers = [
        g
        for g in _grants()
        if g.type == "google_project_iam_member" and g.body["role"] == "roles/storage.objectViewer"
    ]
    assert len(readers) == 1, "the build account needs object read on gcf-v2-sources-*"
    expression = _one(readers[0].body["condition"])["expression"]
    bucket = "projects/_/buckets/${local.gcf_staging_bucket}"
    # The bucket itself (objects.list) and its objects (objects.get), and no other bucket:
    # every alternative of the condition names exactly that bucket.
    alternatives = [a.strip() for a in expression.split("||")]
    assert sorted(alternatives) == sorted(
        [f'resource.name == "{bucket}"', f'resource.name.startsWith("{bucket}/")']
    ), expression


def test_build_account_holds_exactly_what_a_build_needs() -> None:
    held = {
        (g.type, g.body["role"], "condition" in g.body): g.body.get("bucket")
        or g.body.get("repository")
        or g.body.get("project")
        for g in _grants()
    }
    assert held == {
        ("google_project_iam_member", "roles/logging.logWriter", False): "${var.project_id}",
        (
            "google_project_iam_member",
            "roles/storage.objectViewer",
            True,
        ): "${var.project_id}",
        (
            "google_storage_bucket_iam_member",
            "roles/storage.objectViewer",
            False,
        ): "${google_storage_bucket.sources.name}",
        (
            "google_artifact_registry_repository_iam_member",
            "roles/artifactregistry.writer",
            False,
        ): "${google_artifact_registry_repository.functions.name}",
    }


def test_builds_wait_for_the_grants() -> None:
    """The functions are created after every grant above (and the propagation wait)."""
    sleep = next(b for b in hcl.blocks(hcl.INFRA) if b.type == "time_sleep")
    waited = set(sleep.body["depends_on"])
    expected = {f"{g.type}.{g.name}" for g in _grants()}
    assert {re.sub(r"^\$\{|\}$", "", w) for w in waited} == expected
    depends = hcl.module_calls()["function"]["depends_on"]
    assert f"${{time_sleep.{sleep.name}}}" in depends
