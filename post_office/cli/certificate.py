"""The server certificate as ``post-office check`` shows it: subject, issuer, names, expiry
and SHA-256 fingerprint.

A verified certificate is decoded by :mod:`ssl` (``getpeercert()``); an unverified one
(``:verify nil``) only by the ``cryptography`` package, when it is installed.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ._output import say

__all__ = ["CertInfo", "cert_info", "show_cert"]

_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
}


@dataclass
class CertInfo:
    """What is shown of a certificate."""

    subject: str
    issuer: str
    expires: Optional[datetime.datetime]
    names: List[str]
    sha256: str
    not_before: Optional[datetime.datetime] = None


def _dn(name: Any) -> str:
    parts = []
    for rdn in name or ():
        for key, value in rdn:
            parts.append(f"{_NAMES.get(key, key)}={value}")
    return ", ".join(parts) or "(empty)"


def _pairs(decoded: Dict[str, Any]) -> List[Tuple[object, object]]:
    return [(pair[0], pair[1]) for pair in decoded.get("subjectAltName", ())]


def _alt_name(kind: str, value: str) -> str:
    import ipaddress

    if kind == "IP Address":
        try:
            return f"IP:{ipaddress.ip_address(value)}"
        except ValueError:
            return f"IP:{value}"
    return f"{kind}:{value}"


def cert_info(der: Optional[bytes], decoded: Optional[Dict[str, Any]]) -> Optional[CertInfo]:
    """Decode the peer certificate: ``der`` (None: none presented) and, when it was verified,
    :meth:`ssl.SSLSocket.getpeercert`'s dictionary."""
    if not der:
        return None
    fingerprint = hashlib.sha256(der).hexdigest()
    if decoded:
        import ssl

        def moment(key: str) -> Optional[datetime.datetime]:
            value = decoded.get(key)
            if not value:
                return None
            seconds = ssl.cert_time_to_seconds(str(value))
            return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)

        names = [_alt_name(str(kind), str(value)) for kind, value in _pairs(decoded)]
        subject, issuer = _dn(decoded.get("subject")), _dn(decoded.get("issuer"))
        return CertInfo(
            subject, issuer, moment("notAfter"), names, fingerprint, moment("notBefore")
        )
    try:  # unverified: the ssl module decodes nothing, cryptography can when installed
        from cryptography import x509
    except ImportError:
        return CertInfo("(not decoded)", "(not decoded)", None, [], fingerprint)
    cert = x509.load_der_x509_certificate(der)
    expires = getattr(cert, "not_valid_after_utc", None)
    if expires is None:
        expires = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    begins = getattr(cert, "not_valid_before_utc", None)
    if begins is None:
        begins = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [f"DNS:{n}" for n in alt.get_values_for_type(x509.DNSName)]
        names += [f"IP:{n}" for n in alt.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    # Written as the verified path writes them (the ssl module's order and names), so a
    # subject reads the same whether or not the certificate verified.
    subject, issuer = _dn(_rdns(cert.subject)), _dn(_rdns(cert.issuer))
    return CertInfo(subject, issuer, expires, names, fingerprint, begins)


def _rdns(name: Any) -> List[List[Tuple[str, str]]]:
    """A cryptography ``Name`` as :meth:`ssl.SSLSocket.getpeercert` gives one."""
    return [[(attr.oid._name, str(attr.value)) for attr in rdn] for rdn in name.rdns]


def show_cert(info: Optional[CertInfo]) -> None:
    """The ``certificate:`` lines of ``check``."""
    if info is None:
        say("certificate: none presented")
        return
    say(f"certificate: subject {info.subject}")
    say(f"             issuer  {info.issuer}")
    if info.names:
        say(f"             names   {', '.join(info.names)}")
    if info.expires is not None:
        days = (info.expires - datetime.datetime.now(datetime.timezone.utc)).days
        state = f"in {days} days" if days >= 0 else f"EXPIRED {-days} days ago"
        if info.not_before is not None and info.not_before > datetime.datetime.now(
            datetime.timezone.utc
        ):
            state = f"NOT VALID before {info.not_before:%Y-%m-%d %H:%M:%S} UTC"
        say(f"             expires {info.expires:%Y-%m-%d %H:%M:%S} UTC ({state})")
    say(f"             sha256  {info.sha256}")
