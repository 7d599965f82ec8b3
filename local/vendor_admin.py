"""Copies the admin page's third-party assets from local/node_modules into admin/vendor.

No CDN at run time: the page loads only files served from its own origin. Run by
`make setup` after `npm ci`; admin/vendor is generated, not committed.
"""

from __future__ import annotations

import shutil
import subprocess
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
    # Not loaded by the page: the browser tests inject it (from the page's own origin, so
    # the CSP allows it) to check every screen for accessibility violations.
    ("axe-core/axe.min.js", "axe-core/axe.min.js"),
]

# twitter-text ships CommonJS and a Babel ESM tree that imports core-js, punycode and
# twemoji-parser by bare name, which a browser cannot resolve: esbuild bundles the
# exports the composer needs (counting, entities for the preview) into one ES module.
# Same library and config (version3) as the server's twitter-text-parser: same counts.
TWITTER_TEXT_ENTRY = (
    "export { default as parseTweet } from 'twitter-text/dist/esm/parseTweet';\n"
    "export { default as configs } from 'twitter-text/dist/esm/configs';\n"
    "export { default as extractEntitiesWithIndices } "
    "from 'twitter-text/dist/esm/extractEntitiesWithIndices';\n"
)
TWITTER_TEXT_OUT = "twitter-text/twitter-text.mjs"


def bundle_twitter_text() -> None:
    esbuild = NODE / ".bin" / "esbuild"
    if not esbuild.exists():
        raise SystemExit(f"vendor_admin: {esbuild} is missing; run `npm ci` in local/")
    out = VENDOR / TWITTER_TEXT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(esbuild),
            "--bundle",
            "--format=esm",
            "--minify",
            "--target=es2020",
            "--legal-comments=inline",
            "--log-level=warning",
            f"--outfile={out}",
        ],
        input=TWITTER_TEXT_ENTRY,
        text=True,
        cwd=NODE.parent,  # bare imports resolve from local/node_modules
        check=True,
    )


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
    bundle_twitter_text()
    print(f"vendor_admin: {len(ASSETS) + 1} assets in {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
