"""DKIM signing (RFC 6376; Ed25519 per RFC 8463): :class:`DkimKey` and :func:`signed`.

The key is parsed and the header signature computed by dkimpy (the optional extra
``post_office[dkim]``), imported only when a key is made, so ``import post_office`` never
loads it.  The body hash is ours: relaxed body canonicalization (RFC 6376 3.4.4) fed chunk
by chunk while the message is spooled to a temporary file, so a 100 MB attachment is
signed in constant memory (README "DKIM signing").  dkimpy then signs the header block
alone, with that body hash in ``bh=``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import time
from typing import IO, Any, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import MessageArgumentError, OptionError
from .sources import iter_source_chunks

__all__ = ["DkimKey", "RelaxedBodyHash", "check_dkim", "signed"]

#: The headers signed by default (README "DKIM signing"); From is signed twice
#: ("oversigned", RFC 6376 5.4.2) so that no second From can be added unnoticed.
DEFAULT_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "From",
)
_INSTALL = "DKIM signing needs the dkim extra: pip install 'post_office[dkim]'"
_MIN_RSA_BITS = 2048  # RFC 8301 3.2 asks for at least 1024; large providers want 2048
_MAX_HEADER = 1 << 20  # a header block larger than this is not a letter
# The PKCS #8 DER prefix of an Ed25519 private key (RFC 8410 7); the 32-byte seed follows.
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")
_WSP = re.compile(rb"[ \t]+")
_PEM_BODY = re.compile(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END", re.DOTALL)
_LINE_FLUSH = 1 << 16  # a partial line longer than this is hashed before its end


def _dkim() -> Any:
    try:
        import dkim  # optional: loaded only when signing
    except ImportError:
        raise OptionError(_INSTALL) from None
    return dkim


def _key_bytes(private_key: object) -> bytes:
    if isinstance(private_key, bytes):
        return private_key
    if isinstance(private_key, str) and "-----BEGIN" in private_key:
        return private_key.encode("ascii", "replace")
    if isinstance(private_key, (str, os.PathLike)):
        try:
            with open(private_key, "rb") as file:
                return file.read()
        except OSError as exc:
            raise OptionError(
                f"dkim: the private key file cannot be read ({exc.strerror})"
            ) from None
    raise OptionError(
        f"dkim: private_key must be PEM text, bytes or a path, not {type(private_key).__qualname__}"
    )


def _parse_key(data: bytes) -> Tuple[bytes, object]:
    """The signature algorithm and the key as dkimpy's signer wants it."""
    dkim = _dkim()
    match = _PEM_BODY.search(data)
    if match is None:
        raise OptionError("dkim: private_key is not a PEM private key")
    try:
        der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except ValueError:
        raise OptionError("dkim: private_key is not valid PEM (bad base64)") from None
    if der.startswith(_ED25519_PKCS8) and len(der) == len(_ED25519_PKCS8) + 32:
        try:
            import nacl.signing  # dkimpy's Ed25519 backend
        except ImportError:
            raise OptionError(_INSTALL + " (Ed25519 needs PyNaCl)") from None
        return b"ed25519-sha256", nacl.signing.SigningKey(der[len(_ED25519_PKCS8) :])
    try:
        key = dkim.crypto.parse_pem_private_key(data)
    except Exception:  # dkimpy raises several unrelated types for a bad key
        raise OptionError(
            "dkim: private_key is neither an RSA (PKCS #1) nor an Ed25519 (PKCS #8) key"
        ) from None
    bits = int(key["modulus"]).bit_length()
    if bits < _MIN_RSA_BITS:
        raise OptionError(f"dkim: the RSA key has {bits} bits; at least 2048 are needed")
    return b"rsa-sha256", key


class DkimKey:
    """A DKIM signing key: ``DkimKey(domain, selector, private_key, headers=None)``.

    Python only (Allegro does not sign).  :param domain: the ``d=`` domain whose DNS
    publishes the public key at ``selector._domainkey.domain``.  :param selector: ``s=``.
    :param private_key: PEM text, PEM bytes or a path to a PEM file: RSA (2048 bits or
    more, PKCS #1) or Ed25519 (PKCS #8, RFC 8463).  Never shown in a repr or an error.
    :param headers: the header names to sign (default :data:`DEFAULT_HEADERS`; must
    include From).  Canonicalization is relaxed/relaxed (README "DKIM signing").
    """

    __slots__ = ("_key", "algorithm", "domain", "headers", "selector")

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key: Union[str, bytes, os.PathLike[str]],
        headers: Optional[Sequence[str]] = None,
    ) -> None:
        for name, value in (("domain", domain), ("selector", selector)):
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                raise OptionError(f"dkim: {name} must be a DNS name, not {value!r}")
        names = DEFAULT_HEADERS if headers is None else tuple(headers)
        if not all(isinstance(h, str) and re.fullmatch(r"[!-9;-~]+", h) for h in names):
            raise OptionError("dkim: headers must be a list of header field names")
        if "from" not in (h.lower() for h in names):
            raise OptionError("dkim: headers must include From (RFC 6376 5.4)")
        self.domain = domain
        self.selector = selector
        self.headers = names
        self.algorithm, self._key = _parse_key(_key_bytes(private_key))

    def __repr__(self) -> str:
        algorithm = self.algorithm.decode()
        return f"DkimKey(domain={self.domain!r}, selector={self.selector!r}, {algorithm})"

    def __reduce__(self) -> Any:
        raise TypeError("a DkimKey holds a private key and is not pickled")

    def sign_headers(self, header_block: bytes, body_hash: bytes) -> bytes:
        """The ``DKIM-Signature:`` field (CRLF-terminated) for ``header_block`` (CRLF
        lines, no empty line) and the relaxed body hash ``body_hash`` (SHA-256 digest)."""
        dkim = _dkim()
        signer = dkim.DKIM(header_block + b"\r\n", signature_algorithm=self.algorithm)
        signer.hasher = hashlib.sha256
        include = tuple(h.lower().encode("ascii") for h in self.headers)
        domain = self.domain.encode("ascii")
        fields: List[Tuple[bytes, bytes]] = [
            (b"v", b"1"),
            (b"a", self.algorithm),
            (b"c", b"relaxed/relaxed"),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", self.selector.encode("ascii")),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(include)),
            (b"bh", base64.b64encode(body_hash)),
            (b"b", b"0" * 60),  # dkimpy folds b= onto its own line, then replaces it
        ]
        policy = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
        value = signer.gen_header(fields, include, policy, b"DKIM-Signature", self._key)
        return b"DKIM-Signature: " + bytes(value)


def check_dkim(dkim: object) -> Optional[DkimKey]:
    """The entry points' check of ``dkim=``: ``None`` or a :class:`DkimKey`."""
    if dkim is None or isinstance(dkim, DkimKey):
        return dkim
    raise OptionError(f"dkim must be a post_office.DkimKey or None, not {type(dkim).__qualname__}")


def _relaxed(data: bytes) -> bytes:
    """Runs of WSP as one SP.  The regex engine steps byte by byte, while ``in`` is a
    fast search: base64 lines hold no WSP at all and prose mostly single spaces."""
    if b"\t" in data or b"  " in data:
        return _WSP.sub(b" ", data)
    return data


class RelaxedBodyHash:
    """SHA-256 of the relaxed-canonical body (RFC 6376 3.4.4), fed in any split.

    Input is the body with LF line ends (CRLF and bare CR already turned into LF, as the
    DATA encoder sends each as one CRLF).  State kept between chunks: the partial last
    line, the count of empty lines held back (trailing ones are dropped), and whether a
    long line was already partly hashed.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._partial = b""
        self._blank = 0
        self._started = False

    def update(self, data: bytes) -> None:
        data = self._partial + data
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        if end:
            self._lines(data[:end])
        if len(self._partial) > _LINE_FLUSH:
            self._flush_partial()

    def _lines(self, block: bytes) -> None:
        text = _relaxed(block).replace(b" \n", b"\n")
        stripped = text.rstrip(b"\n")
        trailing = len(text) - len(stripped)
        if not stripped:
            if self._started:  # the newline ends a long line already partly hashed
                self._hash.update(b"\r\n")
                trailing -= 1
                self._started = False
            self._blank += trailing
            return
        self._hash.update(b"\r\n" * self._blank + stripped.replace(b"\n", b"\r\n") + b"\r\n")
        self._blank = trailing - 1
        self._started = False

    def _flush_partial(self) -> None:
        text = _relaxed(self._partial)
        head = text.rstrip(b" ")
        if head:
            self._hash.update(b"\r\n" * self._blank + head)
            self._blank = 0
            self._started = True
        self._partial = text[len(head) :]

    def digest(self) -> bytes:
        """The body hash; the last line counts even without a line end."""
        if self._partial:
            self.update(b"\n")
        elif self._started:
            self._hash.update(b"\r\n")
            self._started = False
        return self._hash.digest()


class _Newlines:
    """LF, CRLF and bare CR each to LF, across chunk boundaries (a CR at a chunk's end
    waits for the next chunk, which may start with its LF)."""

    def __init__(self) -> None:
        self._cr = False

    def feed(self, data: bytes) -> bytes:
        if self._cr:
            data = b"\r" + data
        self._cr = data.endswith(b"\r")
        if self._cr:
            data = data[:-1]
        if b"\r" not in data:
            return data
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def finish(self) -> bytes:
        return b"\n" if self._cr else b""


class _Spool:
    """One pass over the message: spooled to a temporary file, headers kept, body hashed."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.header = bytearray()
        self.body = RelaxedBodyHash()
        self._newlines = _Newlines()
        self._in_header = True

    def feed(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self._take(self._newlines.feed(chunk))

    def _take(self, text: bytes) -> None:
        if not self._in_header:
            self.body.update(text)
            return
        self.header += text
        at = 0 if self.header.startswith(b"\n") else self.header.find(b"\n\n")
        if at < 0:
            if len(self.header) > _MAX_HEADER:
                raise MessageArgumentError("dkim: the message has no end of header block")
            return
        rest = bytes(self.header[at + (1 if at == 0 else 2) :])
        del self.header[at + (0 if at == 0 else 1) :]
        self._in_header = False
        self.body.update(rest)

    def finish(self) -> Tuple[bytes, bytes]:
        self._take(self._newlines.finish())
        header = bytes(self.header)
        if self._in_header and header and not header.endswith(b"\n"):
            header += b"\n"  # a message with no body and no final newline
        return header.replace(b"\n", b"\r\n"), self.body.digest()


class _SignedMessage:
    """The message with its DKIM-Signature field in front, produced through the hook
    the DATA encoder takes from MIME parts (one pass to spool and hash, one to send)."""

    def __init__(self, messages: Tuple[object, ...], key: DkimKey) -> None:
        self._messages = messages
        self._key = key

    def __repr__(self) -> str:
        return f"<DKIM-signed message, {self._key!r}>"

    def __post_office_chunks__(self) -> Iterator[bytes]:
        with tempfile.TemporaryFile() as file:
            spool = _Spool(file)
            for chunk in iter_source_chunks(self._messages):
                spool.feed(chunk)
            header, body_hash = spool.finish()
            yield self._key.sign_headers(header, body_hash)
            file.seek(0)
            while True:
                chunk = file.read(1 << 16)
                if not chunk:
                    return
                yield chunk


def signed(messages: Tuple[object, ...], key: Optional[DkimKey]) -> Tuple[object, ...]:
    """``messages`` as the entry points send them: unchanged without a key, else one
    message that signs them (README "DKIM signing")."""
    if key is None:
        return messages
    return (_SignedMessage(messages, key),)
