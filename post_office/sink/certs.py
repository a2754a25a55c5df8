"""Throwaway TLS certificates for the embedded sink (part of the ``sink`` extra).

:func:`make_throwaway_certificate` writes a short-lived self-signed certificate for
``localhost``, ``127.0.0.1`` and ``::1`` (or the hosts given) and its key.  It is made
with the ``cryptography`` package when that is importable, else with the ``openssl``
command-line tool when that is on the PATH.  Clients verify it by passing the
certificate file itself as ``:ca-file`` (README, "The embedded sink").

The key file is always created anew, mode 0600, and moved into place with
:func:`os.replace`: an existing ``key.pem`` (however readable) or a link planted in its
place is replaced, never written through (:func:`_write_new`).

Nothing here is imported by ``import post_office``: the package loads it on first use.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from ..errors import OptionError, SinkUnavailableError

__all__ = [
    "INSTALL_HINT",
    "ThrowawayCertificate",
    "make_throwaway_certificate",
    "server_ssl_context",
]

#: How to get the embedded sink's dependencies, for error messages.
INSTALL_HINT = (
    "install the sink extra: python -m pip install -e '.[sink]' (from a checkout) or "
    "python -m pip install 'post_office[sink]'"
)

#: Days a throwaway certificate is valid (it is made anew at every start).
_CERT_DAYS = 30

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ThrowawayCertificate:
    """PEM files of a throwaway self-signed server certificate and its key.

    ``cert_file`` is also what a client passes as ``:ca-file`` (see :attr:`ca_file`);
    ``made_with`` is ``"cryptography"`` or ``"openssl"``.
    """

    directory: Path
    cert_file: Path
    key_file: Path
    made_with: str
    hosts: Tuple[str, ...]

    @property
    def ca_file(self) -> Path:
        """What a client trusts: the self-signed certificate itself (``:ca-file``)."""
        return self.cert_file

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate."""
        return server_ssl_context(self.cert_file, self.key_file)


def server_ssl_context(cert_file: PathLike, key_file: Optional[PathLike] = None) -> ssl.SSLContext:
    """A server-side :class:`ssl.SSLContext` with the given PEM certificate and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # aiosmtpd warns unless the server context leaves client certificates optional.
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(os.fspath(cert_file), os.fspath(key_file) if key_file else None)
    return context


def make_throwaway_certificate(
    directory: PathLike,
    hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    *,
    method: Optional[str] = None,
) -> ThrowawayCertificate:
    """Write a throwaway self-signed certificate for ``hosts`` and its key into ``directory``
    (``cert.pem``, ``key.pem``), valid for 30 days.

    ``method`` is ``"cryptography"``, ``"openssl"`` or None (the first that is available).
    Raises :class:`SinkUnavailableError` when neither is.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    names = tuple(dict.fromkeys(hosts))
    if method not in (None, "cryptography", "openssl"):
        raise OptionError(f"method {method!r} is not 'cryptography', 'openssl' or None")
    if method in (None, "cryptography"):
        try:
            import cryptography  # noqa: F401
        except ImportError:
            if method == "cryptography":
                raise SinkUnavailableError(
                    f"the cryptography package is not installed: {INSTALL_HINT}"
                ) from None
        else:
            return _with_cryptography(target, names)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SinkUnavailableError(
            "a throwaway certificate needs the cryptography package or the openssl command: "
            + INSTALL_HINT
        )
    return _with_openssl(openssl, target, names)


def _split_hosts(hosts: Sequence[str]) -> Tuple[List[str], List[str]]:
    dns: List[str] = []
    ips: List[str] = []
    for host in hosts:
        try:
            ips.append(str(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            dns.append(host)
    return dns, ips


def _with_cryptography(target: Path, hosts: Tuple[str, ...]) -> ThrowawayCertificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    dns, ips = _split_hosts(hosts)
    alt_names: List[x509.GeneralName] = [x509.DNSName(host) for host in dns]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = target / "cert.pem", target / "key.pem"
    _write_new(cert_file, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_new(
        key_file,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    return ThrowawayCertificate(target, cert_file, key_file, "cryptography", hosts)


#: Never open through a symbolic link (absent on Windows, where links need privileges).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` as a new file of ``mode``: a fresh file next to it
    (``O_CREAT | O_EXCL | O_NOFOLLOW``, so created by us, with ``mode`` from the start),
    then :func:`os.replace`, which replaces whatever ``path`` was (a file of a looser
    mode, or a link) instead of writing through it."""
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"could not create a temporary file next to {path}")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = leaf
[dn]
CN = {common_name}
[leaf]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = {alt_names}
subjectKeyIdentifier = hash
"""


def _with_openssl(openssl: str, target: Path, hosts: Tuple[str, ...]) -> ThrowawayCertificate:
    dns, ips = _split_hosts(hosts)
    alt_names = ", ".join([f"DNS:{name}" for name in dns] + [f"IP:{ip}" for ip in ips])
    cert_file, key_file = target / "cert.pem", target / "key.pem"
    # openssl writes its files where it is told, through links and keeping an existing
    # file's mode: it writes into a fresh private directory (0700) instead, and the files
    # are then written into place as new files (_write_new).
    with tempfile.TemporaryDirectory(prefix=".post-office-cert-", dir=target) as private:
        work = Path(private)
        config = work / "openssl.cnf"
        config.write_text(
            _OPENSSL_CONFIG.format(common_name=hosts[0], alt_names=alt_names), encoding="ascii"
        )
        made_cert, made_key = work / "cert.pem", work / "key.pem"
        command = [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-sha256", "-days", str(_CERT_DAYS), "-keyout", str(made_key),
            "-out", str(made_cert), "-config", str(config),
        ]  # fmt: skip
        result = subprocess.run(
            command,
            capture_output=True,
            env=dict(os.environ, OPENSSL_CONF=str(config)),
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise SinkUnavailableError(
                "openssl failed to make a throwaway certificate: "
                + result.stderr.decode("utf-8", "replace").strip()
            )
        _write_new(cert_file, made_cert.read_bytes(), 0o644)
        _write_new(key_file, made_key.read_bytes(), 0o600)
    return ThrowawayCertificate(target, cert_file, key_file, "openssl", hosts)
