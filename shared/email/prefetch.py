"""Known machine fetches of tracking links: opens and clicks that no person made.

- Apple Mail Privacy Protection loads every remote image of a message through Apple's
  proxies when the message arrives, with a bare `Mozilla/5.0` User-Agent, from Apple's
  network (17.0.0.0/8).
- Mail security scanners (Microsoft Defender Safe Links, Proofpoint, Mimecast,
  Barracuda, ...) fetch links to inspect them, with their own User-Agents or with
  plain HTTP libraries.

The label is a signature match, not a proof: what matches is counted apart
(`machine_opens` / `machine_clicks`), what does not is counted as a person's.
"""

from __future__ import annotations

import ipaddress
import re

APPLE_MPP = "apple_mpp"
SCANNER = "scanner"

_APPLE = ipaddress.ip_network("17.0.0.0/8")
# Substrings (lower case) of User-Agents that only machines send.
_SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|safelinks|microsoft office protocol|ms-office|"
    r"symantec|messagelabs|trend ?micro|forcepoint|sophos|fortiguard|zscaler|"
    r"bitdefender|cisco|ironport|checkpoint|paloalto|cloudmark|google-safety|"
    r"headlesschrome|phantomjs|python-requests|python-urllib|aiohttp|httpx|"
    r"go-http-client|curl/|wget/|java/|okhttp|libwww|scrapy|bot\b|crawler|spider|"
    r"preview|scanner|linkcheck|validator"
)


def classify(user_agent: str | None, client: str | None) -> str | None:
    """APPLE_MPP, SCANNER, or None for what looks like a person's mail client."""
    agent = (user_agent or "").strip()
    if agent == "Mozilla/5.0" and _in_apple(client):
        return APPLE_MPP
    if not agent:
        return SCANNER  # every mail client and browser sends one
    if _SCANNER_AGENTS.search(agent.lower()):
        return SCANNER
    return None


def _in_apple(client: str | None) -> bool:
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in _APPLE
