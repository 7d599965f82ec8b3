"""Copies the admin page's third-party assets from local/node_modules into admin/vendor.

No CDN at run time: the page loads only files served from its own origin. Run by
`make setup` after `npm ci`; admin/vendor is generated, not committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "local" / "node_modules"
VENDOR = ROOT / "admin" / "vendor"

# (source under node_modules, destination under admin/vendor)
ASSETS: list[tuple[str, str]] = [
    ("bootstrap/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    ("bootstrap/dist/js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js"),
    ("bootstrap-icons/font/bootstrap-icons.min.css", "bootstrap-icons/bootstrap-icons.min.css"),
    ("bootstrap-icons/font/fonts", "bootstrap-icons/fonts"),
    ("chart.js/dist/chart.umd.min.js", "chart.js/chart.umd.min.js"),
]


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, dest in ASSETS:
        src, dst = NODE / source, VENDOR / dest
        if not src.exists():
            raise SystemExit(f"vendor_admin: {src} is missing; run `npm ci` in local/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    print(f"vendor_admin: {len(ASSETS)} assets in {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
