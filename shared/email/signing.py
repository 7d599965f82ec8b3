"""DKIM (RFC 6376): the key pair, the DNS record to publish, and signing each message.

dkimpy does the DKIM: canonicalization (relaxed headers, simple body), the body hash,
the signed header list and the DKIM-Signature field. The one step it does in pure
Python, the RSA signature, is done by `cryptography` (OpenSSL) instead: dkimpy's own
RSA took 40 ms a message on this machine, OpenSSL 1.6 ms, and a batch of 50 would
otherwise spend two seconds signing. The result is verified with dkimpy's own
verifier in the tests.
"""

from __future__ import annotations

import base64
from typing import Any

import dkim
from dkim import DKIM, HashThrough, fold, hash_headers

# What the signature covers: the headers a receiver shows or acts on, each listed once
# more than it occurs (an "oversigned" header cannot be added after signing).
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
OVERSIGNED = (b"from", b"subject", b"reply-to", b"list-unsubscribe", b"list-unsubscribe-post")


def new_key() -> tuple[str, str]:
    """An RSA 2048 key pair: the private key (PEM) and the public key (base64 DER)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def dns_record(domain: str, selector: str, public_b64: str) -> dict[str, Any]:
    """The TXT record to publish, with the value split into 255-byte strings."""
    value = f"v=DKIM1; k=rsa; p={public_b64}"
    return {
        "name": f"{selector}._domainkey.{domain}",
        "type": "TXT",
        "value": value,
        "strings": [value[i : i + 255] for i in range(0, len(value), 255)],
    }


class _Dkim(DKIM):
    """dkimpy's signer with the RSA step done by OpenSSL (see the module's docstring)."""

    def __init__(self, message: bytes, key: Any) -> None:
        super().__init__(message, linesep=b"\r\n")
        self._key = key

    def gen_header(  # the same steps as DKIM.gen_header, the RSA signature apart
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: tuple[bytes, ...],
        canon_policy: Any,
        header_name: bytes,
        pk: Any,
        standardize: bool = False,
    ) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, utils

        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        h = HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = hash_headers(
            h, canon_policy, headers, include_headers, header, dict(fields)
        )
        signature = self._key.sign(h.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        idx = next(i for i in range(len(fields)) if fields[i][0] == b"b")
        fields[idx] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return bytes(fold(header_value, namelen=len(header_name), linesep=self.linesep))


class Signer:
    """Signs a batch's messages with the workspace's key (loaded once per batch)."""

    def __init__(self, domain: str, selector: str, private_pem: str) -> None:
        from cryptography.hazmat.primitives import serialization

        self.domain = domain.encode()
        self.selector = selector.encode()
        self._pem = private_pem.encode()
        self._key = serialization.load_pem_private_key(self._pem, password=None)

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature field in front."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line and line[:1] not in (b" ", b"\t")
        }
        include = [h for h in SIGNED_HEADERS if h in present]
        include += [h for h in OVERSIGNED if h in present]
        signer = _Dkim(message, self._key)
        header: bytes = signer.sign(
            self.selector,
            self.domain,
            self._pem,
            include_headers=include,
            canonicalize=(b"relaxed", b"simple"),
        )
        return header + message


def signer_for(runtime: Any, deliverability: dict[str, Any], from_address: str) -> Signer | None:
    """The workspace's signer when DKIM is on and its domain is the From domain's (or a
    parent of it: relaxed DMARC alignment)."""
    conf = deliverability.get("dkim") or {}
    if not conf.get("enabled"):
        return None
    sender_domain = from_address.rpartition("@")[2].lower()
    domain = str(conf["domain"]).lower()
    if sender_domain != domain and not sender_domain.endswith("." + domain):
        return None
    cache_key = (str(conf["key_ref"]), str(conf["public_key"]))
    signer = _SIGNERS.get(cache_key)
    if signer is None:
        from shared.errors import ValidationError
        from shared.secrets import SecretNotFound

        try:
            pem = runtime.secrets.get(conf["key_ref"])
        except SecretNotFound as exc:
            raise ValidationError(
                "the DKIM private key is missing from the secrets store: generate a new key"
            ) from exc
        signer = Signer(domain, str(conf["selector"]), pem)
        if len(_SIGNERS) > 64:
            _SIGNERS.clear()
        _SIGNERS[cache_key] = signer  # the secret read and key parse once per instance
    return signer


_SIGNERS: dict[tuple[str, str], Signer] = {}
