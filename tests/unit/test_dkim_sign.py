"""The DKIM signer without a network (README "DKIM signing"): the streaming relaxed body
hash equals dkimpy's for any body split any way, signed messages verify with the public
key handed to dkimpy directly, and bad keys are refused naming ``dkim``."""

from __future__ import annotations

import base64
import hashlib
from typing import List, Optional, Tuple

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.canonicalization import CanonicalizationPolicy
from hypothesis import given
from hypothesis import strategies as st

from post_office import DkimKey, OptionError
from post_office.message.dkim import RelaxedBodyHash, signed
from post_office.message.sources import encode_data

_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")


def _reference(body: bytes) -> bytes:
    """dkimpy's relaxed body hash of ``body`` as it goes on the wire: CRLF lines, the
    last one ended by the DATA encoder when it is not."""
    if body and not body.endswith((b"\n", b"\r")):
        body += b"\n"
    wire = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return hashlib.sha256(_RELAXED.canonicalize_body(wire)).digest()


def _streamed(body: bytes, cuts: List[int]) -> bytes:
    hasher = RelaxedBodyHash()
    start = 0
    for cut in sorted(cuts):
        hasher.update(body[start:cut])
        start = cut
    hasher.update(body[start:])
    return hasher.digest()


_BODY = st.lists(
    st.sampled_from([b"a", b"xyz", b" ", b"\t", b"\n", b"\n", b"  \n", b".", b"\xc3\xa9"])
).map(b"".join)


@given(_BODY, st.lists(st.integers(0, 60), max_size=6))
def test_streamed_body_hash_equals_dkimpy(body: bytes, cuts: List[int]) -> None:
    body = body.replace(b"\r", b"")  # the signer sees LF lines (see _Newlines)
    assert _streamed(body, [min(c, len(body)) for c in cuts]) == _reference(body)


def test_long_lines_are_hashed_before_their_end() -> None:
    body = b"a  b\t" * 40000 + b"  \n\n" + b"x " * 70000 + b"\n\n\n"
    assert _streamed(body, [1, 70000, 200001, 200003]) == _reference(body)


def _keys() -> List[Tuple[bytes, bytes]]:
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    return [
        (
            rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none),
            b"v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_key.public_key().public_bytes(der, spki)),
        ),
        (
            ed_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none),
            b"v=DKIM1; k=ed25519; p="
            + base64.b64encode(
                ed_key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
            ),
        ),
    ]


KEYS = _keys()


def _wire(messages: Tuple[object, ...]) -> bytes:
    data = b"".join(encode_data(messages))
    assert data.endswith(b".\r\n")
    lines = data[:-3].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


_HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=0, max_size=30
).map(str.strip)


@pytest.mark.parametrize("index", [0, 1])
@given(subject=_HEADER_TEXT, body=_BODY)
def test_signed_messages_verify(index: int, subject: str, body: bytes) -> None:
    pem, txt = KEYS[index]
    key = DkimKey("example.com", "sel", pem)
    message = f"From: a@example.com\nSubject: {subject}\n\n".encode() + body

    def dns(name: bytes, timeout: float = 5) -> Optional[bytes]:
        return txt if name == b"sel._domainkey.example.com." else None

    sent = _wire(signed((message,), key))
    assert dkim.verify(sent, dnsfunc=dns)
    assert not dkim.verify(sent + b"changed\r\n", dnsfunc=dns)


def test_key_forms_and_refusals(tmp_path) -> None:
    pem = KEYS[0][0]
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    for form in (pem, pem.decode(), path, str(path)):
        assert DkimKey("example.com", "s", form).algorithm == b"rsa-sha256"
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    for bad, why in [
        (small, "2048"),
        (b"not a key", "PEM"),
        (12, "PEM text, bytes or a path"),
        (str(tmp_path / "missing.pem"), "cannot be read"),
    ]:
        with pytest.raises(OptionError, match=f"dkim.*{why}"):
            DkimKey("example.com", "s", bad)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="From"):
        DkimKey("example.com", "s", pem, headers=["To"])
    with pytest.raises(OptionError, match="domain"):
        DkimKey("bad domain", "s", pem)


_RAW_BODY = st.lists(st.sampled_from([b"a", b" ", b"\t", b"\n", b"\r\n", b"\r", b"."])).map(
    b"".join
)


@given(body=_RAW_BODY, cuts=st.lists(st.integers(0, 80), max_size=4))
def test_any_newlines_and_any_split_verify(body: bytes, cuts: List[int]) -> None:
    """CR, LF and CRLF (each one CRLF on the wire), split anywhere between arguments, a
    CR at the end of one argument and its LF at the start of the next included."""
    pem, txt = KEYS[1]
    message = b"From: a@example.com\r\nSubject: x  y \r\n\r\n" + body
    points = sorted(min(cut, len(message)) for cut in cuts)
    pieces = tuple(message[a:b] for a, b in zip([0, *points], [*points, len(message)]))
    sent = _wire(signed(pieces, DkimKey("example.com", "sel", pem)))
    assert dkim.verify(sent, dnsfunc=lambda name, timeout=5: txt)
