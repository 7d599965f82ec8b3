"""Serves the static admin page locally with the headers production hosting sets
(Content-Security-Policy and friends) and `config.json` pointing at the API."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ADMIN_DIR = Path(__file__).resolve().parent.parent / "admin"


def security_headers(api_url: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob: {api_url}; font-src 'self'; "
            f"connect-src 'self' {api_url}; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


class AdminHandler(SimpleHTTPRequestHandler):
    api_url = ""

    def end_headers(self) -> None:
        for key, value in security_headers(self.api_url).items():
            self.send_header(key, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json":
            body = json.dumps({"apiUrl": self.api_url}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        # Production hosting (a website bucket) lists no folders; neither does this.
        self.send_error(404, "Not found")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(port: int, api_url: str, directory: Path = ADMIN_DIR) -> ThreadingHTTPServer:
    handler = type("Handler", (AdminHandler,), {"api_url": api_url})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--api-url", required=True)
    args = parser.parse_args()
    httpd = serve(args.port, args.api_url)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
