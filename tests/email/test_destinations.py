"""The SMTP destination guard: what production refuses, and that the connection goes to
the address that was checked (no second DNS answer in between)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from shared.email import smtp
from shared.email.destinations import DestinationPolicy, DestinationRefused
from shared.email.smtp import SmtpConfig
from shared.errors import ProviderError
from tests.email.conftest import PASSWORD, USER

ENFORCED = DestinationPolicy(enforce=True)


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",  # the metadata server
        "127.0.0.1",
        "10.0.0.7",
        "172.16.3.4",
        "192.168.0.1",
        "100.64.1.1",  # shared address space
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
        "localhost",
    ],
)
def test_non_public_addresses_are_refused_in_production(host: str) -> None:
    with pytest.raises(DestinationRefused):
        ENFORCED.address_for(host, 25)


def test_public_addresses_pass_and_the_operator_can_allow_private_ones() -> None:
    assert ENFORCED.address_for("8.8.8.8", 587) == "8.8.8.8"
    allowed = DestinationPolicy(enforce=True, allowed=("10.0.8.0/24", "127.0.0.1"))
    assert allowed.address_for("10.0.8.9", 25) == "10.0.8.9"
    assert allowed.address_for("127.0.0.1", 25) == "127.0.0.1"
    with pytest.raises(DestinationRefused):
        allowed.address_for("10.0.9.1", 25)
    # Outside production nothing is checked (the local sink is on 127.0.0.1).
    assert DestinationPolicy().address_for("127.0.0.1", 25) is None


def test_connect_goes_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["127.0.0.1", "169.254.169.254"])  # a rebinding name server
    resolved: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        address = next(answers)
        resolved.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    connected: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        connected.append(address)
        raise ConnectionRefusedError("test: nothing listens")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    policy = DestinationPolicy(enforce=True, allowed=("127.0.0.0/8",))
    cfg = SmtpConfig("smtp.rebind.example", 2525, "starttls", None, None, policy=policy)
    with pytest.raises(ProviderError) as info:
        smtp.connect(cfg)
    assert info.value.details["reason"] == "connect"
    assert resolved == ["127.0.0.1"] and connected == [("127.0.0.1", 2525)]


def test_a_refused_destination_at_connect_is_a_provider_error_with_its_reason() -> None:
    cfg = SmtpConfig("169.254.169.254", 25, "none", None, None, policy=ENFORCED)
    with pytest.raises(ProviderError) as info:
        smtp.connect(cfg)
    assert info.value.details["reason"] == "destination"
    assert "HERALD_SMTP_ALLOWED_DESTINATIONS" in info.value.message


def test_pinned_connections_speak_smtp_and_tls(smtp_server: Any) -> None:
    policy = DestinationPolicy(enforce=True, allowed=("127.0.0.1",))
    for security, port in (("starttls", smtp_server.port), ("ssl", smtp_server.implicit_port)):
        cfg = SmtpConfig("127.0.0.1", port, security, USER, PASSWORD, policy=policy)
        conn = smtp.connect(cfg)
        try:
            assert conn.noop()[0] == 250
        finally:
            smtp.close(conn)
