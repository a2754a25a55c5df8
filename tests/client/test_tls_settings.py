"""The TLS keywords (README "The mail-server argument") -> TlsSettings -> ssl.SSLContext.

Contexts are checked by inspection (verify mode, versions, loaded CAs, flags) and, where
inspection cannot tell, by a TLS handshake between two in-memory BIOs: real certificate
checking without a socket.  Certificates come from ``trustme``; the password-protected
key and the CRLs are made with ``cryptography``.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
import ssl
import subprocess
import warnings
from typing import Any, Dict, Iterator, Optional

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import example, given
from hypothesis import strategies as st

from post_office import MailServer, TlsSettings, make_ssl_context, parse_mail_server
from post_office.errors import ServerSpecError
from post_office.spec.tls import TLS_KEYWORDS, tls_settings

PASSWORD = "correct horse battery staple"

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """CA, server and client certificates and keys written as PEM files."""
    d = tmp_path_factory.mktemp("tls")
    server = ca.issue_cert("mail.corp")
    client = ca.issue_cert("client.example")
    other = trustme.CA().issue_cert("client.example")
    out: Dict[str, str] = {}

    def write(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)
        out[name] = str(d / name)

    write("ca.pem", ca.cert_pem.bytes())
    write("server.pem", server.private_key_and_cert_chain_pem.bytes())
    write("client-cert.pem", b"".join(blob.bytes() for blob in client.cert_chain_pems))
    write("client-key.pem", client.private_key_pem.bytes())
    write("client-both.pem", client.private_key_and_cert_chain_pem.bytes())
    write("other-key.pem", other.private_key_pem.bytes())
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    write(
        "client-key-encrypted.pem",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        ),
    )
    write("junk.pem", b"this is not PEM\n")
    write("empty.pem", b"")
    return out


def settings(**keywords: Any) -> TlsSettings:
    return tls_settings({k.replace("_", "-"): v for k, v in keywords.items()})


def context(**keywords: Any) -> ssl.SSLContext:
    return make_ssl_context(settings(**keywords))


def server_context(
    files: Dict[str, str],
    *,
    require_client_cert: bool = False,
    maximum: Optional[ssl.TLSVersion] = None,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["server.pem"])
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(files["ca.pem"])
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class Handshake:
    """A client/server TLS handshake over memory BIOs: no socket, real verification."""

    def __init__(
        self, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, server_hostname: str
    ) -> None:
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        self.client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
        self.server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        done = {"client": False, "server": False}
        for _ in range(20):
            for name, end in (("client", self.client), ("server", self.server)):
                if not done[name]:
                    try:
                        end.do_handshake()
                        done[name] = True
                    except ssl.SSLWantReadError:
                        pass
                s_in.write(c_out.read())
                c_in.write(s_out.read())
            if all(done.values()):
                # TLS 1.3 checks the client certificate after the client is done: a
                # round of application data makes the server's verdict reach the client.
                self.client.write(b"ping")
                s_in.write(c_out.read())
                assert self.server.read(4) == b"ping"
                return
        raise AssertionError("handshake did not finish")


def handshake(
    client_ctx: ssl.SSLContext, files: Dict[str, str], hostname: str = "mail.corp", **kw: Any
) -> Handshake:
    return Handshake(client_ctx, server_context(files, **kw), hostname)


def der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))


# --------------------------------------------------------------------------- verification


def test_verification_is_on_by_default() -> None:
    ctx = make_ssl_context(TlsSettings())
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    # (the protocol constant differs by Python version: PROTOCOL_TLS on 3.9, *_CLIENT later)


def test_default_parsed_server_verifies() -> None:
    ms = parse_mail_server(("mail.corp", ":ssl", True))
    ctx = make_ssl_context(ms.tls)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_default_context_refuses_an_unknown_ca(files: Dict[str, str]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(make_ssl_context(TlsSettings()), files)


@pytest.mark.parametrize("spelling", [None, False, "nil", ":nil"])
def test_verify_nil_turns_verification_off(files: Dict[str, str], spelling: Any) -> None:
    ctx = context(verify=spelling)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.check_hostname is False
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    # Allegro's behaviour: an unknown CA and a wrong host name are accepted
    hs = handshake(ctx, files, hostname="not-the-server.example")
    assert hs.client.version() in ("TLSv1.2", "TLSv1.3")


def test_verify_nil_from_lisp_text() -> None:
    ms = parse_mail_server('("mail.corp" :ssl t :verify nil)')
    assert ms.tls.verify == "none"
    assert make_ssl_context(ms.tls).verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize("spelling", [":optional", "optional", "OPTIONAL"])
def test_verify_optional(files: Dict[str, str], spelling: str) -> None:
    ctx = context(verify=spelling, ca_file=files["ca.pem"])
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
    assert ctx.check_hostname is True
    handshake(ctx, files)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(context(verify=spelling), files)


@pytest.mark.parametrize("spelling", [True, "t", ":required", "required"])
def test_verify_required_is_the_default(spelling: Any) -> None:
    assert settings(verify=spelling) == TlsSettings()
    assert context(verify=spelling).verify_mode == ssl.CERT_REQUIRED


def test_verify_bad_value() -> None:
    with pytest.raises(ServerSpecError, match=r":verify.*'sometimes'.*nil, :optional"):
        settings(verify="sometimes")


# --------------------------------------------------------------------------- CA files


def test_ca_file_is_loaded(ca: trustme.CA, files: Dict[str, str]) -> None:
    ctx = context(ca_file=files["ca.pem"])
    assert ctx.get_ca_certs(binary_form=True) == [der(ca.cert_pem.bytes())]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    hs = handshake(ctx, files)
    assert hs.client.getpeercert()["subjectAltName"] == (("DNS", "mail.corp"),)


def test_ca_file_as_a_path_object(ca: trustme.CA, files: Dict[str, str]) -> None:
    ctx = context(ca_file=pathlib.Path(files["ca.pem"]))
    assert ctx.get_ca_certs(binary_form=True) == [der(ca.cert_pem.bytes())]


def test_ca_file_as_a_bytes_path_object(ca: trustme.CA, files: Dict[str, str]) -> None:
    class BytesPath(os.PathLike):  # type: ignore[type-arg]
        def __fspath__(self) -> bytes:
            return os.fsencode(files["ca.pem"])

    s = settings(ca_file=BytesPath())
    assert s.ca_file == files["ca.pem"]
    assert make_ssl_context(s).get_ca_certs(binary_form=True) == [der(ca.cert_pem.bytes())]


def test_host_name_is_checked(files: Dict[str, str]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(context(ca_file=files["ca.pem"]), files, hostname="other.example")


def test_missing_ca_file_names_the_keyword(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(ServerSpecError) as info:
        context(ca_file=missing)
    assert ":ca-file" in str(info.value)
    assert missing in str(info.value)


@pytest.mark.parametrize("name", ["junk.pem", "empty.pem"])
def test_unreadable_ca_file_names_the_keyword(files: Dict[str, str], name: str) -> None:
    with pytest.raises(ServerSpecError, match=":ca-file"):
        context(ca_file=files[name])


def _hash_link(ca_pem: str, directory: pathlib.Path) -> bool:
    """Lay the CA out as OpenSSL's capath wants it (``<subject hash>.0``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return False
    digest = subprocess.run(
        [openssl, "x509", "-noout", "-subject_hash", "-in", ca_pem],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shutil.copy(ca_pem, directory / f"{digest}.0")
    return True


def test_ca_directory(files: Dict[str, str], tmp_path: pathlib.Path) -> None:
    ctx = context(ca_directory=str(tmp_path))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.get_ca_certs() == []  # a capath is only looked into during a handshake
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(ctx, files)
    if not _hash_link(files["ca.pem"], tmp_path):
        pytest.skip("no openssl command to compute the capath hash name")
    handshake(context(ca_directory=tmp_path), files)


def test_ca_file_and_ca_directory_together(files: Dict[str, str], tmp_path: pathlib.Path) -> None:
    ctx = context(ca_file=files["ca.pem"], ca_directory=str(tmp_path))
    handshake(ctx, files)


def test_missing_ca_directory_names_the_keyword(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "no-such-dir")
    with pytest.raises(ServerSpecError) as info:
        context(ca_directory=missing)
    assert ":ca-directory" in str(info.value) and missing in str(info.value)
    with pytest.raises(ServerSpecError, match=":ca-directory"):
        context(ca_directory=__file__)  # a file, not a directory


# --------------------------------------------------------------------------- client certificate


def test_client_certificate_and_key(files: Dict[str, str]) -> None:
    ctx = context(
        certificate=files["client-cert.pem"], key=files["client-key.pem"], ca_file=files["ca.pem"]
    )
    hs = handshake(ctx, files, require_client_cert=True)
    assert hs.server.getpeercert()["subjectAltName"] == (("DNS", "client.example"),)


def test_client_certificate_file_holding_the_key(files: Dict[str, str]) -> None:
    ctx = context(certificate=files["client-both.pem"], ca_file=files["ca.pem"])
    hs = handshake(ctx, files, require_client_cert=True)
    assert hs.server.getpeercert()["subjectAltName"] == (("DNS", "client.example"),)


def test_without_a_client_certificate_the_server_refuses(files: Dict[str, str]) -> None:
    with pytest.raises(ssl.SSLError):
        handshake(context(ca_file=files["ca.pem"]), files, require_client_cert=True)


def test_password_protected_key(files: Dict[str, str]) -> None:
    ms = parse_mail_server(
        (
            "mail.corp",
            ":ssl",
            True,
            ":certificate",
            files["client-cert.pem"],
            ":key",
            files["client-key-encrypted.pem"],
            ":certificate-password",
            PASSWORD,
            ":ca-file",
            files["ca.pem"],
        )
    )
    hs = handshake(make_ssl_context(ms.tls), files, require_client_cert=True)
    assert hs.server.getpeercert()["subjectAltName"] == (("DNS", "client.example"),)


def _assert_not_shown(secret: str, exc: BaseException) -> None:
    seen = [exc]
    while seen[-1].__cause__ is not None or seen[-1].__context__ is not None:
        nxt = seen[-1].__cause__ or seen[-1].__context__
        assert nxt is not None
        seen.append(nxt)
    for e in seen:
        assert secret not in str(e)
        assert secret not in repr(e)
        assert all(secret not in str(arg) for arg in e.args)


def test_wrong_password_is_a_spec_error_that_hides_the_password(files: Dict[str, str]) -> None:
    wrong = "Tr0ub4dor&3-wrong"
    with pytest.raises(ServerSpecError) as info:
        context(
            certificate=files["client-cert.pem"],
            key=files["client-key-encrypted.pem"],
            certificate_password=wrong,
        )
    message = str(info.value)
    assert ":certificate" in message and ":certificate-password" in message
    assert files["client-key-encrypted.pem"] in message
    _assert_not_shown(wrong, info.value)


def test_encrypted_key_without_password_fails_instead_of_prompting(
    files: Dict[str, str],
) -> None:
    # OpenSSL's default is to prompt on the terminal, which would hang a mail sender.
    with pytest.raises(ServerSpecError, match=":certificate-password"):
        context(certificate=files["client-cert.pem"], key=files["client-key-encrypted.pem"])


def test_password_given_for_a_plain_key_is_harmless(files: Dict[str, str]) -> None:
    context(
        certificate=files["client-cert.pem"],
        key=files["client-key.pem"],
        certificate_password="unused",
    )


def test_missing_certificate_names_the_keyword(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "client.pem")
    with pytest.raises(ServerSpecError) as info:
        context(certificate=missing)
    assert ":certificate" in str(info.value) and missing in str(info.value)


def test_certificate_and_key_that_do_not_match(files: Dict[str, str]) -> None:
    with pytest.raises(ServerSpecError, match=":key"):
        context(certificate=files["client-cert.pem"], key=files["other-key.pem"])


def test_key_or_password_without_certificate() -> None:
    with pytest.raises(ServerSpecError, match=r":key.*:certificate"):
        settings(key="/k.pem")
    with pytest.raises(ServerSpecError, match=r":certificate-password.*:certificate") as info:
        settings(certificate_password="hunter2")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("bad", ["", "pw\n", "pw\r", "p\x00w"])
def test_bad_password_values_are_not_shown(bad: str) -> None:
    with pytest.raises(ServerSpecError) as info:
        settings(certificate="/c.pem", certificate_password=bad)
    if bad:
        assert bad not in str(info.value)
    assert "<redacted>" in str(info.value)


# --------------------------------------------------------------------------- repr


def test_tls_settings_repr_never_shows_the_password() -> None:
    s = settings(certificate="/c.pem", certificate_password="pa55word", ca_file="/ca.pem")
    assert "pa55word" not in repr(s)
    assert "pa55word" not in str(s)
    assert "certificate_password='<redacted>'" in repr(s)
    assert "ca_file='/ca.pem'" in repr(s)
    direct = TlsSettings(certificate="/c.pem", certificate_password="pa55word")
    assert "pa55word" not in repr(direct)
    ms = MailServer("mail.corp", tls=s)
    assert "pa55word" not in repr(ms) and "pa55word" not in str(ms)


@given(st.text(min_size=1).filter(lambda t: not any(c in t for c in "\r\n\x00")))
@example("'")
@example("\\")
@example("<redacted>")
def test_no_password_appears_in_reprs(text: str) -> None:
    secret = "SECRET" + text
    s = settings(certificate="/c.pem", certificate_password=secret)
    assert s.certificate_password is not None
    assert s.certificate_password.reveal() == secret
    for shown in (repr(s), repr(MailServer("mail.corp", tls=s))):
        assert "SECRET" not in shown


def test_tls_settings_repr_and_keywords() -> None:
    assert repr(TlsSettings()) == "TlsSettings()"
    assert TlsSettings().keywords() == []
    s = settings(method=":TLSv1.3", verify=None, max_depth=3, crl_check=True, crl_file="/c")
    assert repr(s) == (
        "TlsSettings(method=Keyword('tlsv1.3'), crl_file='/c', crl_check=Keyword('peer'), "
        "verify=None, max_depth=3)"
    )


# --------------------------------------------------------------------------- ciphers


def test_ciphers(files: Dict[str, str]) -> None:
    ctx = context(ciphers="ECDHE+AESGCM", ca_file=files["ca.pem"])
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12
    assert all("ECDHE" in c["name"] and "GCM" in c["name"] for c in tls12)
    server = server_context(files, maximum=ssl.TLSVersion.TLSv1_2)
    hs = Handshake(ctx, server, "mail.corp")
    cipher = hs.client.cipher()
    assert cipher is not None and "ECDHE" in cipher[0] and "GCM" in cipher[0]


def test_invalid_ciphers_name_the_keyword() -> None:
    with pytest.raises(ServerSpecError) as info:
        context(ciphers="NO-SUCH-CIPHER")
    assert ":ciphers" in str(info.value) and "NO-SUCH-CIPHER" in str(info.value)


@pytest.mark.parametrize(
    "keywords",
    [{"ciphersuites": "TLS_AES_256_GCM_SHA384"}, {"max_depth": 4}, {"max_depth": 0}],
)
def test_unapplied_keywords_warn_when_the_context_is_made(keywords: Dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = settings(**keywords)  # parsing is silent
    with pytest.warns(RuntimeWarning, match=":ciphersuites and :max-depth"):
        make_ssl_context(s)


def test_no_warning_without_them() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_ssl_context(settings(ciphers="HIGH", server_name="smtp.example"))


@pytest.mark.parametrize("bad", [-1, "3", 1.5, True])
def test_max_depth_must_be_a_non_negative_integer(bad: Any) -> None:
    with pytest.raises(ServerSpecError, match=":max-depth"):
        settings(max_depth=bad)


# --------------------------------------------------------------------------- server name


def test_server_name_is_stored(files: Dict[str, str]) -> None:
    s = settings(server_name="smtp.example")
    assert s.server_name == "smtp.example"
    ms = parse_mail_server(("10.1.2.3", ":ssl", True, ":server-name", "mail.corp"))
    assert ms.tls.server_name == "mail.corp"
    assert parse_mail_server(ms.to_lisp()) == ms
    # The context does not carry the name: the connection passes it as server_hostname
    # (SNI and the name checked), so the context stays verifying.
    ctx = make_ssl_context(settings(server_name="mail.corp", ca_file=files["ca.pem"]))
    assert ctx.check_hostname is True
    handshake(ctx, files, hostname=ms.tls.server_name)


@pytest.mark.parametrize("bad", ["", "a\r\nb", 5])
def test_server_name_bad_values(bad: Any) -> None:
    with pytest.raises(ServerSpecError, match=":server-name"):
        settings(server_name=bad)


# --------------------------------------------------------------------------- :method


@pytest.mark.parametrize(
    ("method", "minimum"),
    [
        (":tlsv1.2", ssl.TLSVersion.TLSv1_2),
        ("tlsv1.2", ssl.TLSVersion.TLSv1_2),
        (":TLSv1.2", ssl.TLSVersion.TLSv1_2),
        (":tlsv1.2+", ssl.TLSVersion.TLSv1_2),
        (":tlsv1.3", ssl.TLSVersion.TLSv1_3),
        (":tlsv1.3+", ssl.TLSVersion.TLSv1_3),
        # ranges: the secure default
        (":sslv23", ssl.TLSVersion.TLSv1_2),
        (":sslv3+", ssl.TLSVersion.TLSv1_2),
        (":tlsv1+", ssl.TLSVersion.TLSv1_2),
        (":tlsv1.1+", ssl.TLSVersion.TLSv1_2),
        (None, ssl.TLSVersion.TLSv1_2),
    ],
)
def test_method_sets_the_minimum_version(method: Any, minimum: ssl.TLSVersion) -> None:
    ctx = context(method=method)
    assert ctx.minimum_version == minimum
    assert ctx.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_method_tlsv1_3_refuses_a_tls_1_2_server(files: Dict[str, str]) -> None:
    ctx = context(method=":tlsv1.3", ca_file=files["ca.pem"])
    with pytest.raises(ssl.SSLError):
        handshake(ctx, files, maximum=ssl.TLSVersion.TLSv1_2)
    assert handshake(ctx, files).client.version() == "TLSv1.3"


def test_method_tlsv1_2_is_a_minimum_not_exactly(files: Dict[str, str]) -> None:
    ctx = context(method=":tlsv1.2", ca_file=files["ca.pem"])
    assert handshake(ctx, files).client.version() == "TLSv1.3"
    assert handshake(ctx, files, maximum=ssl.TLSVersion.TLSv1_2).client.version() == "TLSv1.2"


@pytest.mark.parametrize("method", [":sslv2", ":sslv3", ":tlsv1", "tlsv1.1", ":SSLv3"])
def test_insecure_methods_are_refused_clearly(method: str) -> None:
    with pytest.raises(ServerSpecError) as info:
        settings(method=method)
    message = str(info.value)
    assert ":method" in message and repr(method) in message
    assert "insecure" in message and ":tlsv1.2" in message


def test_allegro_example_method_sslv3_plus_is_accepted() -> None:
    ms = parse_mail_server('("localhost" :ssl t :method :sslv3+)')
    assert ms.tls.method == "sslv3+"
    assert make_ssl_context(ms.tls).minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("method", [":tlsv9", "bogus", 12, True, ":"])
def test_unknown_method_lists_the_valid_ones(method: Any) -> None:
    with pytest.raises(ServerSpecError) as info:
        settings(method=method)
    message = str(info.value)
    assert ":method" in message
    for valid in ("sslv23", "sslv3+", "tlsv1+", "tlsv1.1+", "tlsv1.2", "tlsv1.2+", "tlsv1.3"):
        assert ":" + valid in message


# --------------------------------------------------------------------------- :context


def test_context_is_returned_as_is() -> None:
    ctx = ssl.create_default_context()
    assert make_ssl_context(settings(context=ctx)) is ctx
    with_name = settings(context=ctx, server_name="smtp.example")
    assert make_ssl_context(with_name) is ctx
    ms = parse_mail_server({"host": "mail.corp", "ssl": True, "context": ctx})
    assert make_ssl_context(ms.tls) is ctx


def test_context_nil_is_no_context() -> None:
    assert settings(context=None).context is None


@pytest.mark.parametrize(
    "other",
    [
        {"ca_file": "/ca.pem"},
        {"verify": None},
        {"method": ":tlsv1.3"},
        {"ciphers": "HIGH"},
        {"certificate": "/c.pem"},
        {"crl_file": "/crl.pem"},
    ],
)
def test_context_refuses_other_tls_keywords(other: Dict[str, Any]) -> None:
    ctx = ssl.create_default_context()
    with pytest.raises(ServerSpecError) as info:
        settings(context=ctx, **other)
    name = ":" + next(iter(other)).replace("_", "-")
    assert ":context cannot be combined with" in str(info.value)
    assert name in str(info.value)


def test_context_must_be_an_ssl_context() -> None:
    with pytest.raises(ServerSpecError, match=r":context.*ssl\.SSLContext"):
        settings(context="default")


# --------------------------------------------------------------------------- CRLs


def _crl(ca: trustme.CA, revoked_serials: Any) -> bytes:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(days=1))
        .next_update(now + datetime.timedelta(days=30))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=1))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def crls(
    ca: trustme.CA, files: Dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dict[str, str]]:
    d = tmp_path_factory.mktemp("crl")
    server_cert = x509.load_pem_x509_certificate(pathlib.Path(files["server.pem"]).read_bytes())
    (d / "empty.crl").write_bytes(_crl(ca, []))
    (d / "revoked.crl").write_bytes(_crl(ca, [server_cert.serial_number]))
    yield {"empty": str(d / "empty.crl"), "revoked": str(d / "revoked.crl")}


@pytest.mark.parametrize(
    ("spelling", "flag"),
    [
        (True, ssl.VERIFY_CRL_CHECK_LEAF),
        (":peer", ssl.VERIFY_CRL_CHECK_LEAF),
        ("PEER", ssl.VERIFY_CRL_CHECK_LEAF),
        (":all", ssl.VERIFY_CRL_CHECK_CHAIN),
    ],
)
def test_crl_check_sets_the_verify_flags(
    files: Dict[str, str], crls: Dict[str, str], spelling: Any, flag: ssl.VerifyFlags
) -> None:
    ctx = context(crl_check=spelling, crl_file=crls["empty"], ca_file=files["ca.pem"])
    assert ctx.verify_flags & flag
    handshake(ctx, files)


def test_no_crl_check_by_default(files: Dict[str, str]) -> None:
    flags = context(ca_file=files["ca.pem"]).verify_flags
    assert not flags & (ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN)
    assert settings(crl_check=None).crl_check is None


def test_crl_file_revokes(files: Dict[str, str], crls: Dict[str, str]) -> None:
    for level in (":peer", ":all"):
        ctx = context(crl_check=level, crl_file=crls["revoked"], ca_file=files["ca.pem"])
        with pytest.raises(ssl.SSLCertVerificationError, match="revoked"):
            handshake(ctx, files)


def test_crl_check_without_a_crl_fails_the_handshake(files: Dict[str, str]) -> None:
    ctx = context(crl_check=":peer", ca_file=files["ca.pem"])
    with pytest.raises(ssl.SSLCertVerificationError, match="CRL"):
        handshake(ctx, files)


def test_crl_check_needs_a_crl_file_or_ca_file() -> None:
    with pytest.raises(ServerSpecError, match=r":crl-check.*:crl-file"):
        settings(crl_check=":peer")


def test_crl_check_bad_value() -> None:
    with pytest.raises(ServerSpecError, match=r":crl-check.*:peer, :all"):
        settings(crl_check=":sometimes", crl_file="/c")


def test_missing_crl_file_names_the_keyword(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "none.crl")
    with pytest.raises(ServerSpecError) as info:
        context(crl_file=missing, crl_check=":peer")
    assert ":crl-file" in str(info.value) and missing in str(info.value)


def test_unreadable_crl_file(files: Dict[str, str]) -> None:
    with pytest.raises(ServerSpecError, match=":crl-file"):
        context(crl_file=files["junk.pem"])


# --------------------------------------------------------------------------- tls_settings


def test_tls_settings_takes_canonical_names_only() -> None:
    with pytest.raises(ServerSpecError, match="unknown TLS keyword :ca_file"):
        tls_settings({"ca_file": "/ca.pem"})
    with pytest.raises(ServerSpecError, match="unknown TLS keyword :port"):
        tls_settings({"port": 25})


def test_tls_settings_nil_means_not_given() -> None:
    names = [n for n in TLS_KEYWORDS if n != "verify"]
    assert tls_settings(dict.fromkeys(names)) == TlsSettings()
    falsy = [n for n in names if n not in ("context", "max-depth")]
    assert tls_settings(dict.fromkeys(falsy, False)) == TlsSettings()


def test_tls_settings_is_an_immutable_value() -> None:
    s = settings(ca_file="/ca.pem")
    with pytest.raises(AttributeError):
        s.ca_file = "/other.pem"  # type: ignore[misc]
    assert s == settings(ca_file="/ca.pem")
    assert hash(s) == hash(settings(ca_file="/ca.pem"))
