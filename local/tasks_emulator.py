"""Runs gcloud-tasks-emulator bound to 127.0.0.1 (its CLI binds [::]).

Executed by the interpreter of `.venv-tasks` (the emulator needs protobuf<5), so this
file imports nothing from Herald. Usage:
    python tasks_emulator.py --port 8682 --queue projects/P/locations/L/queues/Q ...
"""

import argparse
import logging
import sys
import time
from concurrent import futures

import grpc
from gcloud_tasks_emulator import server


def _run_loopback(self):  # type: ignore[no-untyped-def]  # replaces APIThread.run
    self._httpd = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_CloudTasksServicer_to_server(server.Greeter(self._state), self._httpd)
    self._httpd.add_insecure_port(f"127.0.0.1:{self._port}")
    self._httpd.start()
    self._is_running.set()
    print(f"cloud tasks emulator listening on 127.0.0.1:{self._port}", flush=True)
    while self._is_running.is_set():
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8682)
    parser.add_argument("--queue", action="append", default=[])
    parser.add_argument("--max-retries", type=int, default=-1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, stream=sys.stderr)
    server.APIThread.run = _run_loopback
    emulator = server.create_server(
        "127.0.0.1", args.port, "127.0.0.1", 80, set(args.queue), args.max_retries
    )
    try:
        emulator.start()
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
