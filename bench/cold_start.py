"""Cold start per function: import time of its main module as a ratio to importing
functions-framework alone, time from process start to the first answered request,
and peak memory after that request. Also lists heavy SDKs a function loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.report import Figure, Reporter, median
from local.stack import ROOT, Stack, free_port, function_command
from shared.settings import FUNCTION_NAMES

# None of these may be loaded by the hot-path functions (issue 10, cold start).
HEAVY = ("google.ads", "google.genai", "facebook_business", "matplotlib", "sklearn", "pandas")
LEAN_FUNCTIONS = (
    "dispatch",
    "post_tweet",
    "send_email",
    "import_contacts",
    "read_bounces",
    "track",
)

_IMPORT_PROBE = """
import sys, time, json, importlib.util
t = time.perf_counter()
if sys.argv[1] == "-":
    import functions_framework  # noqa
else:
    spec = importlib.util.spec_from_file_location("main", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
elapsed = time.perf_counter() - t
heavy = sorted({m.split(".")[0] if not m.startswith("google.") else ".".join(m.split(".")[:2])
                for m in sys.modules if m.startswith(tuple(sys.argv[2].split(",")))})
print(json.dumps({"s": elapsed, "heavy": heavy}))
"""


def import_probe(target: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, target, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "HERALD_ENV": "local"},
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def first_response(name: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to the first HTTP answer, and peak RSS (MiB) after it."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        function_command(name, port),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/",
                data=b"{}",
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=30):  # noqa: S310 - local
                    pass
                break
            except urllib.error.HTTPError:
                break  # an answer, even an error status, is a response
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.01)
        elapsed = time.perf_counter() - started
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
        )
        return elapsed, hwm_kb / 1024
    finally:
        proc.terminate()
        proc.wait(10)


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, object]) -> None:
    runs = 3 if quick else 7
    base = median([float(import_probe("-")["s"]) for _ in range(runs)])  # type: ignore[arg-type]
    reporter.add(Figure("import_s_functions_framework", base, "s"))
    env = stack.env()
    for name in FUNCTION_NAMES:
        main = str(ROOT / "functions" / name / "main.py")
        probes = [import_probe(main) for _ in range(runs)]
        t = median([float(p["s"]) for p in probes])  # type: ignore[arg-type]
        heavy = sorted({h for p in probes for h in p["heavy"]})  # type: ignore[attr-defined]
        note = ("loads " + ", ".join(heavy)) if heavy else None
        reporter.add(
            Figure(f"import_ratio_{name}", t / base, "x", baseline=base, ratio=t / base, note=note)
        )
        samples = [first_response(name, env) for _ in range(1 if quick else 3)]
        reporter.add(Figure(f"first_response_s_{name}", median([s[0] for s in samples]), "s"))
        reporter.add(Figure(f"rss_mb_{name}", max(s[1] for s in samples), "MiB"))
