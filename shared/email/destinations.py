"""Where a workspace's SMTP client may connect: a server-side request guard.

Owners choose the SMTP host and port. In production an address that is not globally
routable (private, loopback, link-local such as the metadata server 169.254.169.254,
shared, reserved, multicast) is refused unless the operator allows it with
HERALD_SMTP_ALLOWED_DESTINATIONS (addresses, networks or host names). The name is
resolved once and the connection goes to the address that was checked, so DNS cannot
answer one address to the check and another to the connect (rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import ValidationError

if TYPE_CHECKING:
    from shared.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(ValidationError):
    """The SMTP destination is one this deployment does not connect to."""


@dataclass(frozen=True)
class DestinationPolicy:
    enforce: bool = False
    allowed: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> DestinationPolicy:
        return cls(enforce=settings.is_production, allowed=settings.smtp_allowed_destinations)

    def _networks(self) -> list[Network]:
        out: list[Network] = []
        for entry in self.allowed:
            try:
                out.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # a host name
        return out

    def _names(self) -> set[str]:
        return {e.lower().rstrip(".") for e in self.allowed if not _is_network(e)}

    def permits(self, address: Address) -> bool:
        if _public(address):
            return True
        return any(address in net for net in self._networks())

    def address_for(self, host: str, port: int) -> str | None:
        """The checked address to connect to (None: connect by name, nothing enforced).

        DestinationRefused when the host resolves to an address that is not allowed,
        or does not resolve at all (in production)."""
        if not self.enforce:
            return None
        name = host.lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise DestinationRefused(
                f"the SMTP host {host!r} does not resolve: {exc}",
                {"field": "host", "reason": "dns"},
            ) from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if name not in self._names():
            refused = [a for a in addresses if not self.permits(a)]
            if refused:
                raise DestinationRefused(
                    f"the SMTP host {host!r} is a private, loopback, link-local or reserved "
                    f"address ({refused[0]}); Herald connects only to public SMTP servers "
                    "unless the operator allows this one (HERALD_SMTP_ALLOWED_DESTINATIONS)",
                    {"field": "host", "reason": "destination"},
                )
        if not addresses:
            raise DestinationRefused(f"the SMTP host {host!r} has no address", {"field": "host"})
        return str(addresses[0])


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return bool(address.is_global) and not address.is_multicast
