"""The sending domain's pre-flight: SPF, DKIM and DMARC as receivers will see them.

Looked up with dnspython (the system resolver; HERALD_DNS_RESOLVER=host:port points
it at another server, as the tests do with a local dnslib server). Each check gives
`ok` (pass | warn | fail), what was found and, unless it passes, concrete advice:
- SPF: one `v=spf1` TXT record at the envelope sender's domain (the bounce mailbox's
  when VERP is on, else the From domain) whose mechanisms authorise the SMTP host:
  the include of a known provider, or the host's own addresses reached through
  ip4/ip6/a/mx/include/redirect (at most 10 lookups, as RFC 7208 allows).
- DKIM: `<selector>._domainkey.<domain>` holds `v=DKIM1` with the public key Herald
  signs with.
- DMARC: `_dmarc.<from domain>` (or its organisational domain's) exists with a policy,
  and DKIM or SPF aligns with the From domain (relaxed or strict, as `adkim`/`aspf` say).
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.runtime import Runtime

MAX_LOOKUPS = 10
# The SPF include each well-known SMTP relay asks its senders to publish.
PROVIDER_INCLUDES = {
    "sendgrid.net": "sendgrid.net",
    "mailgun.org": "mailgun.org",
    "amazonaws.com": "amazonses.com",
    "postmarkapp.com": "spf.mtasv.net",
    "gmail.com": "_spf.google.com",
    "google.com": "_spf.google.com",
    "office365.com": "spf.protection.outlook.com",
}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def resolver() -> Any:
    import dns.resolver

    where = os.environ.get("HERALD_DNS_RESOLVER")
    if not where:
        return dns.resolver.Resolver()
    host, _, port = where.rpartition(":")
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = int(port)
    return res


def txt(res: Any, name: str) -> list[str]:
    """The TXT strings at `name` (each record's strings joined); [] when none."""
    import dns.exception
    import dns.resolver

    try:
        answer = res.resolve(name, "TXT", lifetime=5)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise LookupError(f"{name}: {exc.__class__.__name__}") from exc
    return [b"".join(r.strings).decode(errors="replace") for r in answer]


def addresses(res: Any, name: str) -> list[str]:
    import dns.exception

    found: list[str] = []
    for rtype in ("A", "AAAA"):
        try:
            found += [r.to_text() for r in res.resolve(name, rtype, lifetime=5)]
        except dns.exception.DNSException:
            continue
    return found


def _mx_hosts(res: Any, name: str) -> list[str]:
    import dns.exception

    try:
        return [r.exchange.to_text().rstrip(".") for r in res.resolve(name, "MX", lifetime=5)]
    except dns.exception.DNSException:
        return []


class _Spf:
    """Walks an SPF record: the networks and includes it authorises."""

    def __init__(self, res: Any) -> None:
        self.res = res
        self.lookups = 0
        self.networks: list[Network] = []
        self.includes: set[str] = set()
        self.problems: list[str] = []

    def _count(self) -> bool:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            self.problems.append(f"more than {MAX_LOOKUPS} DNS lookups (receivers give up)")
            return False
        return True

    def walk(self, domain: str, record: str) -> None:
        for term in record.split()[1:]:
            qualifier = term[0] if term[0] in "+-~?" else "+"
            mech = term.lstrip("+-~?")
            name, _, value = mech.partition(":")
            name = name.partition("/")[0].lower()  # a/24, mx/24: the host's own address
            value = value.partition("/")[0] if name in ("a", "mx") else value
            if qualifier != "+":
                continue
            if mech.lower().startswith("redirect="):
                self._include(mech.partition("=")[2])
            elif name == "include" and value:
                self.includes.add(value.lower())
                self._include(value)
            elif name in ("ip4", "ip6") and value:
                try:
                    self.networks.append(ipaddress.ip_network(value, strict=False))
                except ValueError:
                    self.problems.append(f"{term} is not an address")
            elif name == "a" and self._count():
                self._hosts([value or domain])
            elif name == "mx" and self._count():
                self._hosts(_mx_hosts(self.res, value or domain))

    def _include(self, target: str) -> None:
        if not self._count():
            return
        records = [t for t in txt(self.res, target) if t.lower().startswith("v=spf1")]
        if records:
            self.walk(target, records[0])

    def _hosts(self, names: list[str]) -> None:
        for host in names:
            for ip in addresses(self.res, host):
                self.networks.append(ipaddress.ip_network(ip))

    def allows(self, ips: list[str]) -> bool:
        return bool(ips) and all(
            any(ipaddress.ip_address(ip) in net for net in self.networks) for ip in ips
        )


def _provider_include(smtp_host: str) -> str | None:
    host = smtp_host.lower().rstrip(".")
    for suffix, include in PROVIDER_INCLUDES.items():
        if host == suffix or host.endswith("." + suffix):
            return include
    return None


def check_spf(res: Any, domain: str, smtp_host: str) -> dict[str, Any]:
    records = [t for t in txt(res, domain) if t.lower().startswith("v=spf1")]
    base = {"name": "spf", "domain": domain}
    include = _provider_include(smtp_host)
    wanted = f"include:{include}" if include else f"a:{smtp_host}"
    if not records:
        return {
            **base,
            "ok": "fail",
            "found": None,
            "advice": f"Publish a TXT record at {domain}: v=spf1 {wanted} ~all",
        }
    if len(records) > 1:
        return {
            **base,
            "ok": "fail",
            "found": records,
            "advice": f"{domain} has {len(records)} SPF records; receivers treat that as an "
            "error. Merge them into one v=spf1 record.",
        }
    record = records[0]
    walker = _Spf(res)
    walker.walk(domain, record)
    allowed = (include in walker.includes) if include else False
    allowed = allowed or walker.allows(addresses(res, smtp_host))
    if walker.problems:
        return {**base, "ok": "fail", "found": record, "advice": "; ".join(walker.problems)}
    if not allowed:
        return {
            **base,
            "ok": "fail",
            "found": record,
            "advice": f"The SPF record does not authorise {smtp_host}: add {wanted} "
            f"before its 'all', e.g. {_with(record, wanted)}",
        }
    if record.split()[-1] in ("+all", "all"):
        return {
            **base,
            "ok": "warn",
            "found": record,
            "advice": "The record ends in +all: anyone may send as this domain. "
            "End it in ~all or -all.",
        }
    return {**base, "ok": "pass", "found": record, "advice": None}


def _with(record: str, term: str) -> str:
    parts = record.split()
    tail = [p for p in parts[1:] if p.lstrip("+-~?") == "all" or p.startswith("redirect=")]
    head = [p for p in parts if p not in tail]
    return " ".join([*head, term, *(tail or ["~all"])])


def _tags(record: str) -> dict[str, str]:
    out = {}
    for part in record.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            out[key.strip().lower()] = "".join(value.split())
    return out


def check_dkim(res: Any, dkim: dict[str, Any] | None) -> dict[str, Any]:
    from shared.email.signing import dns_record

    if not dkim:
        return {
            "name": "dkim",
            "ok": "fail",
            "found": None,
            "advice": "Generate a DKIM key on this page and publish the record it shows.",
        }
    record = dns_record(dkim["domain"], dkim["selector"], dkim["public_key"])
    base = {"name": "dkim", "domain": record["name"]}
    found = [t for t in txt(res, record["name"]) if "p=" in t]
    if not found:
        return {
            **base,
            "ok": "fail",
            "found": None,
            "advice": f"Publish a TXT record at {record['name']}: {record['value']}",
        }
    tags = _tags(found[0])
    if tags.get("p") != dkim["public_key"]:
        return {
            **base,
            "ok": "fail",
            "found": found[0],
            "advice": f"The key at {record['name']} is not the one Herald signs with "
            f"(an older key, or cut short). Replace the record with: {record['value']}",
        }
    if not dkim.get("enabled"):
        return {**base, "ok": "warn", "found": found[0], "advice": "Turn DKIM signing on."}
    return {**base, "ok": "pass", "found": found[0], "advice": None}


def organisational(domain: str) -> str:
    """The registrable domain, approximated by the last two labels (no public suffix
    list: a `co.uk`-style domain is looked up at its own _dmarc name first anyway)."""
    return ".".join(domain.split(".")[-2:])


def _aligned(mode: str, one: str, other: str) -> bool:
    if mode == "s":
        return one == other
    return organisational(one) == organisational(other)


def check_dmarc(
    res: Any, from_domain: str, dkim_domain: str | None, spf_domain: str, spf_ok: bool
) -> dict[str, Any]:
    base = {"name": "dmarc", "domain": f"_dmarc.{from_domain}"}
    records: list[str] = []
    for name in dict.fromkeys([from_domain, organisational(from_domain)]):
        records = [t for t in txt(res, f"_dmarc.{name}") if t.lower().startswith("v=dmarc1")]
        if records:
            break
    if not records:
        return {
            **base,
            "ok": "fail",
            "found": None,
            "advice": f"Publish a TXT record at _dmarc.{from_domain}: v=DMARC1; p=none; "
            f"rua=mailto:dmarc@{from_domain} (then move to p=quarantine once reports are "
            "clean). Gmail and Yahoo require DMARC of bulk senders.",
        }
    tags = _tags(records[0])
    dkim_aligned = bool(dkim_domain) and _aligned(
        tags.get("adkim", "r"), str(dkim_domain), from_domain
    )
    spf_aligned = spf_ok and _aligned(tags.get("aspf", "r"), spf_domain, from_domain)
    if tags.get("p") not in ("none", "quarantine", "reject"):
        return {
            **base,
            "ok": "fail",
            "found": records[0],
            "advice": "The DMARC record has no valid policy: add p=none, p=quarantine or p=reject.",
        }
    if not (dkim_aligned or spf_aligned):
        return {
            **base,
            "ok": "fail",
            "found": records[0],
            "advice": f"Neither DKIM nor SPF aligns with {from_domain}: sign with a DKIM key "
            f"for {from_domain} (generate one here), or send with a return path at "
            f"{from_domain} that SPF authorises.",
        }
    if tags["p"] == "none":
        return {
            **base,
            "ok": "warn",
            "found": records[0],
            "advice": "p=none only monitors; move to p=quarantine when the reports are clean.",
        }
    return {**base, "ok": "pass", "found": records[0], "advice": None}


def run(runtime: Runtime, workspace_id: str, res: Any = None) -> dict[str, Any]:
    """The three checks for the workspace's From domain and SMTP host."""
    from shared.email import deliverability
    from shared.errors import ValidationError

    smtp = deliverability.smtp_settings(runtime, workspace_id)
    doc = deliverability.load(runtime, workspace_id)
    from_address = str(smtp.get("from_address") or "")
    if "@" not in from_address or not smtp.get("host"):
        raise ValidationError("save the SMTP settings (host and From address) first")
    from_domain = from_address.rpartition("@")[2].lower()
    mailbox = doc.get("mailbox") or {}
    envelope = (
        str(mailbox["address"]) if mailbox.get("enabled") and mailbox.get("address") else None
    )
    spf_domain = (envelope or from_address).rpartition("@")[2].lower()
    dkim = doc.get("dkim")
    try:
        res = res or resolver()
        spf = check_spf(res, spf_domain, str(smtp["host"]))
        checks = [
            spf,
            check_dkim(res, dkim),
            check_dmarc(
                res,
                from_domain,
                str(dkim["domain"]).lower() if dkim and dkim.get("enabled") else None,
                spf_domain,
                spf["ok"] != "fail",
            ),
        ]
    except LookupError as exc:
        raise ValidationError(f"DNS lookup failed: {exc}; try again") from exc
    except Exception as exc:  # dnspython's own: no resolver configured, bad answers
        import dns.exception

        if not isinstance(exc, dns.exception.DNSException):
            raise
        raise ValidationError(f"DNS lookup failed: {exc}") from exc
    worst = max((c["ok"] for c in checks), key=["pass", "warn", "fail"].index)
    return {"domain": from_domain, "smtp_host": smtp["host"], "ok": worst, "checks": checks}
