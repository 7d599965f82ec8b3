"""A slow worker answer must not hold back unrelated tasks of the same queue.

The scenario of issue 16: one post whose X answer takes 33 s, and two unrelated posts of
the same queue due 4 s and 11 s after it. On Cloud Tasks the queue delivers up to its
max concurrent dispatches at once, so the two go out on time; a queue that delivers one
task at a time sends them 26 s and 19 s late. The worker here is a local HTTP server that
answers the slow task after `slow_s` and the others at once; lateness = arrival - due.

`python -m bench.slow_answer --tasks-host HOST:PORT --project P --location L` measures any
Cloud Tasks server (the queue `herald-tweets` must exist there).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from bench.report import Figure, Reporter
from shared.settings import Settings
from shared.tasks import CloudTasksEnqueuer, TaskSpec

FULL = (33.0, (4.0, 11.0))  # the measurement
QUICK = (8.0, (2.0, 5.0))


class _Worker(BaseHTTPRequestHandler):
    arrivals: ClassVar[dict[str, float]] = {}
    arrived = threading.Condition()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.arrived:
            self.arrivals[body["id"]] = time.time()
            self.arrived.notify_all()
        time.sleep(float(body.get("sleep_s", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def measure(settings: Settings, slow_s: float, offsets: tuple[float, ...]) -> list[float]:
    """Seconds late of each unrelated task (due `offsets` after the slow one)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Worker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    enqueuer = CloudTasksEnqueuer(
        replace(settings, function_urls={**settings.function_urls, "post_tweet": url})
    )
    _Worker.arrivals.clear()
    start = datetime.now(UTC) + timedelta(seconds=2)
    due = {
        "slow": start,
        **{f"other{i}": start + timedelta(seconds=o) for i, o in enumerate(offsets)},
    }
    for key, at in due.items():
        sleep_s = slow_s if key == "slow" else 0
        enqueuer.enqueue(TaskSpec("tweets", "post_tweet", {"id": key, "sleep_s": sleep_s}, at))
    deadline = time.time() + 2 + slow_s + max(offsets) + 60
    try:
        with _Worker.arrived:
            while len(_Worker.arrivals) < len(due) and time.time() < deadline:
                _Worker.arrived.wait(1.0)
        missing = set(due) - set(_Worker.arrivals)
        if missing:
            raise RuntimeError(f"tasks never delivered: {sorted(missing)}")
        return [_Worker.arrivals[k] - due[k].timestamp() for k in due if k != "slow"]
    finally:
        server.shutdown()


def run(reporter: Reporter, stack: Any, quick: bool, context: dict[str, Any]) -> None:
    del context
    slow_s, offsets = QUICK if quick else FULL
    late = measure(Settings.from_env(stack.env()), slow_s, offsets)
    reporter.add(
        Figure(
            "slow_answer_unrelated_late_max_s",
            max(late),
            "s",
            note=f"one answer of {slow_s:g} s; unrelated tasks due +{offsets} s were "
            f"{', '.join(f'{x:.2f}' for x in late)} s late",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks-host", required=True)
    parser.add_argument("--project", default="herald-local")
    parser.add_argument("--location", default="local")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    settings = Settings(
        env="test",
        project_id=args.project,
        region=args.location,
        tasks_emulator_host=args.tasks_host,
    )
    slow_s, offsets = QUICK if args.quick else FULL
    late = measure(settings, slow_s, offsets)
    print(
        json.dumps({"slow_s": slow_s, "offsets_s": offsets, "late_s": [round(x, 2) for x in late]})
    )


if __name__ == "__main__":
    main()
