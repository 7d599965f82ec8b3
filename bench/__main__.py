"""`make bench` (or `python -m bench [--quick] [--only NAME ...]`).

Starts its own local stack on free ports (with Firestore read/write counting on in
every function process), runs each benchmark, prints one JSON line per figure and
writes a Markdown summary to bench/results/summary.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.report import Figure, Reporter
from local.stack import ROOT, Ports, Stack, StackConfig

# Order matters: cost figures reuse the stack's counters from precision and email runs.
BENCHMARKS = (
    "cold_start",
    "dispatch_scale",
    "precision",
    "contact_import",
    "slow_answer",
    "email_throughput",
    "chaos",
    "cost",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (see bench/README.md)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS)
    args = parser.parse_args(argv)
    reporter = Reporter(ROOT / "bench" / "results" / "summary.md")
    selected = args.only or list(BENCHMARKS)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        data = Path(tmp)
        stats_dir = data / "firestore-stats"
        config = StackConfig(
            ports=Ports.free(),
            data_dir=data,
            project_id="herald-bench",
            tick_s=5.0 if args.quick else 60.0,
            scheduler=False,  # each benchmark drives dispatch the way it measures
            admin=False,
            extra_env={"HERALD_FIRESTORE_STATS_DIR": str(stats_dir)},
        )
        stack = Stack(config).start()
        latest = ROOT / "bench" / "results" / "latest.json"
        context = {"stats_dir": stats_dir, "results": {}, "latest": latest}
        try:
            for name in selected:
                started = time.monotonic()
                module = importlib.import_module(f"bench.{name}")
                try:
                    module.run(reporter, stack, args.quick, context)
                except Exception:
                    failures += 1
                    traceback.print_exc()
                    reporter.add(Figure(f"bench_failed_{name}", 1, "flag"))
                print(f"# {name}: {time.monotonic() - started:.1f}s", file=sys.stderr)
        finally:
            stack.stop()
    reporter.write_summary()
    # Keep every figure's last value (the cost model reads per-item figures from earlier
    # runs when `--only cost` runs alone).
    latest = ROOT / "bench" / "results" / "latest.json"
    previous = json.loads(latest.read_text()) if latest.exists() else {}
    previous.update({f.name: f.value for f in reporter.figures})
    latest.write_text(json.dumps(previous, indent=1, sort_keys=True))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
