"""DKIM-signed delivery (README "DKIM signing"): every message that reaches aiosmtpd is
verified by dkimpy's verifier, the public key fetched from the loopback DNS server as a
TXT record at ``selector._domainkey.domain``; a message changed after signing fails."""

from __future__ import annotations

import base64
import io
from email.message import EmailMessage
from typing import Any, Callable, Dict, Optional, Tuple

import dkim
import dns.message
import dns.query
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from support.dnsserver import DnsServer

import post_office
from post_office import DkimKey, OptionError, send_letter, send_smtp, send_smtp_auth

DOMAIN = "signer.example"
FROM = f"sender@{DOMAIN}"
TO = "rcpt@example.org"
_PUBLIC = serialization.PublicFormat.SubjectPublicKeyInfo
_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


def _rsa() -> Tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        _PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = base64.b64encode(key.public_key().public_bytes(_DER, _PUBLIC)).decode()
    return pem, f"v=DKIM1; k=rsa; p={public}"


def _ed25519() -> Tuple[bytes, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"


@pytest.fixture(scope="module")
def keys() -> Dict[str, Tuple[bytes, str]]:
    return {"rsa": _rsa(), "ed": _ed25519()}


@pytest.fixture
def dkim_dns(
    keys: Dict[str, Tuple[bytes, str]], dns_server_factory: Callable[..., DnsServer]
) -> Callable[..., Optional[bytes]]:
    """dkimpy's ``dnsfunc``, asking the loopback DNS server (dnspython) for the TXT."""
    zone: Dict[str, Any] = {
        f"{selector}._domainkey.{DOMAIN}": [("TXT", txt)] for selector, (_, txt) in keys.items()
    }
    server = dns_server_factory(zone=zone)

    def lookup(name: bytes, timeout: float = 5) -> Optional[bytes]:
        query = dns.message.make_query(name.decode(), "TXT")
        answer = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=timeout)
        for rrset in answer.answer:
            for record in rrset:
                return b"".join(record.strings)
        return None

    return lookup


def _key(keys: Dict[str, Tuple[bytes, str]], selector: str) -> DkimKey:
    return DkimKey(DOMAIN, selector, keys[selector][0])


def _verify(content: bytes, dnsfunc: Callable[..., Optional[bytes]]) -> bool:
    return bool(dkim.verify(content, dnsfunc=dnsfunc))


LETTER = (
    f"From: {FROM}\nTo: {TO}\nSubject: Grüße  aus  Köln \nMessage-ID: <1@{DOMAIN}>\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n\nÜber  den \t Rhein\n.a dot line\n\n\n"
)


@pytest.mark.parametrize("selector", ["rsa", "ed"])
@pytest.mark.parametrize("form", ["str", "bytes", "file", "email"])
def test_send_smtp_signed_and_verified(smtp_plain, keys, dkim_dns, selector, form) -> None:
    message: object = {
        "str": LETTER,
        "bytes": LETTER.encode("utf-8"),
        "file": io.BytesIO(LETTER.encode("utf-8")),
        "email": _email_message(),
    }[form]
    send_smtp((smtp_plain.host, smtp_plain.port), FROM, TO, message, dkim=_key(keys, selector))
    content = smtp_plain.messages[0].content
    assert content.startswith(b"DKIM-Signature: v=1; a=")
    assert _verify(content, dkim_dns)
    # The same message changed after signing (body, then a signed header) fails.
    assert not _verify(content.replace(b"Rhein", b"Rhine"), dkim_dns)
    assert not _verify(content.replace(b"Subject: ", b"Subject: Re: "), dkim_dns)


def _email_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = TO
    message["Subject"] = "Grüße aus Köln"
    message.set_content("Über den Rhein\n")
    return message


def test_pieces_signed_as_one_message(smtp_plain, keys, dkim_dns) -> None:
    header, body = LETTER.split("\n\n", 1)
    pieces = (header.encode(), "\n", "\n", io.StringIO(body))
    send_smtp((smtp_plain.host, smtp_plain.port), FROM, TO, *pieces, dkim=_key(keys, "rsa"))
    assert _verify(smtp_plain.messages[0].content, dkim_dns)


@pytest.mark.parametrize("selector", ["rsa", "ed"])
def test_send_letter_with_attachment(smtp_plain, keys, dkim_dns, selector, tmp_path) -> None:
    attachment = tmp_path / "data.bin"
    attachment.write_bytes(bytes(range(256)) * 400)
    send_letter(
        (smtp_plain.host, smtp_plain.port),
        FROM,
        [TO, "zoë@example.org"],
        "Hällo,\n\nthe file.\n",
        subject="Ünïcode subject",
        cc="cc@example.org",
        attachments=[str(attachment)],
        dkim=_key(keys, selector),
    )
    content = smtp_plain.messages[0].content
    assert _verify(content, dkim_dns)
    assert not _verify(content.replace(b"Cc: cc@", b"Cc: cx@"), dkim_dns)


def test_send_smtp_auth_signs(smtp_plain, keys, dkim_dns) -> None:
    with pytest.warns(UserWarning):  # the plain server offers no AUTH
        send_smtp_auth(
            (smtp_plain.host, smtp_plain.port), FROM, TO, "u", "p", LETTER, dkim=_key(keys, "ed")
        )
    assert _verify(smtp_plain.messages[0].content, dkim_dns)


def test_a_bad_dkim_argument_is_refused_before_connecting(fault_server_factory) -> None:
    with pytest.raises(OptionError, match="dkim"):
        send_smtp(("127.0.0.1", 1), FROM, TO, LETTER, dkim="not a key")
    with pytest.raises(OptionError, match="dkim"):
        send_letter(("127.0.0.1", 1), FROM, TO, "x", dkim=object())


def test_the_private_key_is_never_shown(keys) -> None:
    for selector in keys:
        pem = keys[selector][0]
        key = _key(keys, selector)
        secret = b"".join(pem.splitlines()[1:-1])[10:40].decode()
        assert secret not in repr(key)
        assert secret not in str(key)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(_key(keys, "rsa"))
    assert "DkimKey" in post_office.__all__


def test_dkimpy_loads_only_when_a_key_is_made(tmp_path, keys) -> None:
    """``import post_office`` never loads dkimpy; without the extra, making a key gives
    one error naming the install command."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "key.pem"
    path.write_bytes(keys["rsa"][0])
    code = (
        "import sys, post_office\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dkim', 'nacl')]\n"
        "assert 'post_office.message.dkim' not in sys.modules\n"
        "sys.modules['dkim'] = None\n"
        "try:\n"
        f"    post_office.DkimKey('signer.example', 'rsa', {str(path)!r})\n"
        "except post_office.OptionError as exc:\n"
        "    print(exc)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'post_office[dkim]'" in result.stdout


def test_smtp_session_signs_every_message(smtp_plain, keys, dkim_dns) -> None:
    with post_office.smtp_session(
        (smtp_plain.host, smtp_plain.port), dkim=_key(keys, "rsa")
    ) as session:
        session.send_smtp(FROM, TO, LETTER)
        session.send_letter(FROM, TO, "second\n", subject="two")
    assert len(smtp_plain.messages) == 2
    assert all(_verify(m.content, dkim_dns) for m in smtp_plain.messages)
    with pytest.raises(OptionError, match="dkim"):
        post_office.smtp_session(("127.0.0.1", 1), dkim=b"pem")


def test_cli_send_signs(smtp_plain, keys, dkim_dns, tmp_path, monkeypatch, capsys) -> None:
    from post_office.cli import main

    key = tmp_path / "dkim.pem"
    key.write_bytes(keys["ed"][0])
    body = tmp_path / "body.txt"
    body.write_text("Grüße\n", encoding="utf-8")
    server = f"127.0.0.1:{smtp_plain.port}"
    common = [server, FROM, TO, "--subject", "signed", "--file", str(body), "--quiet"]
    assert main(["send", *common, "--dkim-key", str(key)]) == 2  # all three or none
    assert "go together" in capsys.readouterr().err
    dkim_options = ["--dkim-key", str(key), "--dkim-selector", "ed", "--dkim-domain", DOMAIN]
    assert main(["send", *common, *dkim_options]) == 0
    raw = tmp_path / "raw.eml"
    raw.write_bytes(LETTER.encode("utf-8"))
    raw_args = [server, FROM, TO, "--raw", "--file", str(raw), "--quiet"]
    assert main(["send", *raw_args, *dkim_options]) == 0
    assert len(smtp_plain.messages) == 2
    assert all(_verify(m.content, dkim_dns) for m in smtp_plain.messages)
    output = capsys.readouterr()
    secret = b"".join(keys["ed"][0].splitlines()[1:-1])[10:40].decode()
    assert secret not in output.out + output.err
