"""The mail-server argument (README "The mail-server argument"): every accepted form, every error,
and the properties the issue names: all equivalent forms of one server parse to the same
``MailServer``; rendering and reading back is the identity; junk never escapes as anything
but ``ServerSpecError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import ssl
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from post_office import Keyword, MailProgram, MailServer, parse_mail_server, read_lisp, to_lisp
from post_office._checks import show
from post_office.errors import LispSyntaxError, PostOfficeError, ServerSpecError
from post_office.spec import mailserver as server_module
from post_office.spec.tls import TLS_KEYWORDS, TlsSettings, tls_settings
from post_office.spec.transport import parse_transport

StartTLS = Union[bool, str]


def server(
    host: str,
    port: int = 25,
    ssl: bool = False,
    starttls: StartTLS = False,
    **tls: Any,
) -> MailServer:
    """The expected value, built directly (TLS keywords in snake_case)."""
    settings = tls_settings({k.replace("_", "-"): v for k, v in tls.items()})
    return MailServer(host, port, ssl, starttls, settings)


# --------------------------------------------------------------------------- accepted forms

MAIL = server("mail.corp")

FORMS: List[Tuple[str, object, MailServer]] = [
    # host name or dotted address: port 25
    ("name", "mail.corp", MAIL),
    ("dotted", "10.1.2.3", server("10.1.2.3")),
    ("localhost", "localhost", server("localhost")),
    ("trailing dot", "mail.corp.", server("mail.corp.")),
    ("upper case kept", "MAIL.Corp", server("MAIL.Corp")),
    ("idn", "bücher.example", server("bücher.example")),
    ("digits only", "1234", server("1234")),
    # host and port
    ("name:port", "mail.corp:2525", server("mail.corp", 2525)),
    ("dotted:port", "10.1.2.3:587", server("10.1.2.3", 587)),
    ("name:1", "mail.corp:1", server("mail.corp", 1)),
    ("name:65535", "mail.corp:65535", server("mail.corp", 65535)),
    ("leading zeros", "mail.corp:0025", server("mail.corp", 25)),
    # IPv6 literals are hosts, not host:port
    ("::1", "::1", server("::1")),
    ("v6", "2001:db8::25", server("2001:db8::25")),
    ("v6 ending in digits", "::1:2525", server("::1:2525")),
    ("v6 long form", "0:0:0:0:0:0:0:1", server("::1")),
    ("v6 upper", "2001:DB8::1", server("2001:db8::1")),
    ("v6 scope", "fe80::1%eth0", server("fe80::1%eth0")),
    ("v4-mapped v6", "::ffff:10.1.2.3", server(str(ipaddress.IPv6Address("::ffff:10.1.2.3")))),
    ("[v6]", "[::1]", server("::1")),
    ("[v6]:port", "[::1]:2525", server("::1", 2525)),
    ("[v6 scope]:port", "[fe80::1%eth0]:26", server("fe80::1%eth0", 26)),
    ("[v6 long]:port", "[2001:db8:0:0::1]:587", server("2001:db8::1", 587)),
    # IPv4 as an integer, ipaddress objects
    ("int", 167838211, server("10.1.2.3")),
    ("int 0", 0, server("0.0.0.0")),
    ("int loopback", 2130706433, server("127.0.0.1")),
    ("int max", 4294967295, server("255.255.255.255")),
    ("IPv4Address", ipaddress.IPv4Address("10.1.2.3"), server("10.1.2.3")),
    ("IPv6Address", ipaddress.IPv6Address("::1"), server("::1")),
    ("IPv6Address long", ipaddress.IPv6Address("2001:db8:0::1"), server("2001:db8::1")),
    # (host . port)
    ("pair", ("mail.corp", 2525), server("mail.corp", 2525)),
    ("pair list", ["mail.corp", 2525], server("mail.corp", 2525)),
    ("pair int host", (167838211, 25), server("10.1.2.3")),
    ("pair v6", (ipaddress.IPv6Address("::1"), 2525), server("::1", 2525)),
    ("pair v6 text", ("::1", 2525), server("::1", 2525)),
    ("pair [v6] text", ("[::1]", 2525), server("::1", 2525)),
    ("host alone in a list", ["mail.corp"], MAIL),
    ("host alone in a tuple", ("mail.corp",), MAIL),
    # keyword lists: every way to spell a key
    ("list :port", ("mail.corp", ":port", 587), server("mail.corp", 587)),
    ("list port", ("mail.corp", "port", 587), server("mail.corp", 587)),
    ("list Keyword", ("mail.corp", Keyword("port"), 587), server("mail.corp", 587)),
    ("list :PORT", ("mail.corp", ":PORT", 587), server("mail.corp", 587)),
    ("list Port", ["mail.corp", "Port", 587], server("mail.corp", 587)),
    ("list ssl", ("mail.corp", ":ssl", True), server("mail.corp", 465, ssl=True)),
    ("list ssl port", ("mail.corp", ":port", 465, ":ssl", True), server("mail.corp", 465, True)),
    ("list ssl 2465", ("mail.corp", ":ssl", True, ":port", 2465), server("mail.corp", 2465, True)),
    ("list ssl nil", ("mail.corp", ":ssl", None), MAIL),
    ("list ssl False", ("mail.corp", ":ssl", False), MAIL),
    ("list ssl 'nil'", ("mail.corp", ":ssl", "nil"), MAIL),
    ("list ssl 't'", ("mail.corp", "ssl", "t"), server("mail.corp", 465, ssl=True)),
    ("list ssl Keyword t", ("mail.corp", "ssl", Keyword("t")), server("mail.corp", 465, True)),
    ("starttls t", ("mail.corp", ":starttls", True), server("mail.corp", starttls=True)),
    ("starttls ':t'", ("mail.corp", ":starttls", ":t"), server("mail.corp", starttls=True)),
    (
        "starttls port",
        ("mail.corp", ":port", 587, ":starttls", True),
        server("mail.corp", 587, starttls=True),
    ),
    ("starttls nil", ("mail.corp", ":starttls", None), MAIL),
    (
        "starttls :required",
        ("mail.corp", ":starttls", ":required"),
        server("mail.corp", starttls="required"),
    ),
    (
        "starttls required",
        ("mail.corp", ":starttls", "required"),
        server("mail.corp", starttls="required"),
    ),
    (
        "starttls REQUIRED",
        ("mail.corp", ":starttls", "REQUIRED"),
        server("mail.corp", starttls="required"),
    ),
    (
        "starttls Keyword",
        ("mail.corp", ":starttls", Keyword("required")),
        server("mail.corp", starttls="required"),
    ),
    (
        "ssl and starttls",
        ("mail.corp", ":ssl", True, ":starttls", True),
        server("mail.corp", 465, ssl=True, starttls=True),
    ),
    (
        "tls keywords, hyphen",
        ("mail.corp", ":ca-file", "/etc/ca.pem", ":server-name", "smtp.example"),
        server("mail.corp", ca_file="/etc/ca.pem", server_name="smtp.example"),
    ),
    (
        "tls keywords, underscore",
        ("mail.corp", ":ca_file", "/etc/ca.pem", "server_name", "smtp.example"),
        server("mail.corp", ca_file="/etc/ca.pem", server_name="smtp.example"),
    ),
    (
        "tls keywords, upper case",
        ("mail.corp", ":CA-FILE", "/etc/ca.pem", "Server_Name", "smtp.example"),
        server("mail.corp", ca_file="/etc/ca.pem", server_name="smtp.example"),
    ),
    (
        "tls keywords, Keyword",
        ("mail.corp", Keyword("ca_file"), "/etc/ca.pem", Keyword("verify"), Keyword("optional")),
        server("mail.corp", ca_file="/etc/ca.pem", verify=Keyword("optional")),
    ),
    (
        "method keyword",
        ("mail.corp", ":ssl", True, ":method", ":sslv3+"),
        server("mail.corp", 465, ssl=True, method="sslv3+"),
    ),
    ("verify nil", ("mail.corp", ":verify", None), server("mail.corp", verify=None)),
    ("verify False", ("mail.corp", ":verify", False), server("mail.corp", verify=None)),
    ("verify 'nil'", ("mail.corp", ":verify", "nil"), server("mail.corp", verify=None)),
    ("verify t", ("mail.corp", ":verify", True), MAIL),
    ("verify :required", ("mail.corp", ":verify", ":required"), MAIL),
    # a mapping
    (
        "mapping",
        {"host": "mail.corp", "port": 587, "starttls": True},
        server("mail.corp", 587, starttls=True),
    ),
    (
        "mapping, keyword keys",
        {":host": "mail.corp", ":port": 587, Keyword("ssl"): True},
        server("mail.corp", 587, ssl=True),
    ),
    (
        "mapping, Keyword host",
        {Keyword("HOST"): "mail.corp", "CA_FILE": "/ca.pem"},
        server("mail.corp", ca_file="/ca.pem"),
    ),
    ("mapping, host only", {"host": "mail.corp"}, MAIL),
    ("mapping, int host", {"host": 167838211, "port": 26}, server("10.1.2.3", 26)),
    ("mapping, v6 host", {"host": "[::1]", "ssl": True}, server("::1", 465, True)),
    # literal Lisp text
    (
        "lisp list",
        '("mail.corp" :port 587 :starttls t)',
        server("mail.corp", 587, starttls=True),
    ),
    ("lisp pair", '("mail.corp" . 2525)', server("mail.corp", 2525)),
    ("lisp quoted", '\'("mail.corp" :ssl t)', server("mail.corp", 465, ssl=True)),
    ("lisp white space", '  ("mail.corp")\n', MAIL),
    ("lisp comment", '("mail.corp" ; the relay\n :port 26)', server("mail.corp", 26)),
    ("lisp upper case", '("mail.corp" :PORT 26 :SSL T)', server("mail.corp", 26, ssl=True)),
    ("lisp int host", "(167838211 :port 2525)", server("10.1.2.3", 2525)),
    ("lisp int pair", "(167838211 . 2525)", server("10.1.2.3", 2525)),
    ("lisp v6", '("::1" :port 2525)', server("::1", 2525)),
    (
        "lisp starttls required",
        '("mail.corp" :starttls :required)',
        server("mail.corp", starttls="required"),
    ),
    (
        "lisp tls keywords",
        '("mail.corp" :ssl t :method :tlsv1.2 :ca-file "/ca \\"x\\".pem" :verify nil'
        ' :crl-check :peer :crl_file "/crl.pem" :max-depth 4)',
        server(
            "mail.corp",
            465,
            ssl=True,
            method="tlsv1.2",
            ca_file='/ca "x".pem',
            verify=None,
            crl_check="peer",
            crl_file="/crl.pem",
            max_depth=4,
        ),
    ),
    (
        "lisp ssl nil",
        '("mail.corp" :ssl nil :starttls nil)',
        MAIL,
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_accepted_forms(spec: object, expected: MailServer) -> None:
    parsed = parse_mail_server(spec)
    assert parsed == expected
    assert type(parsed.port) is int
    assert parsed.ssl in (True, False)
    assert parsed.starttls in (True, False, "required")
    # parse_transport agrees for every SMTP form
    assert parse_transport(spec) == expected


def test_an_existing_mail_server_is_returned_as_is() -> None:
    ms = server("mail.corp", 587, starttls=True)
    assert parse_mail_server(ms) is ms
    assert parse_transport(ms) is ms


def test_defaults() -> None:
    assert parse_mail_server("mail.corp").port == 25
    assert parse_mail_server(("mail.corp", ":ssl", True)).port == 465
    assert parse_mail_server(("mail.corp", ":starttls", True)).port == 25
    assert parse_mail_server(("mail.corp", ":ssl", True, ":port", 25)).port == 25
    assert parse_mail_server(("mail.corp", ":ssl", None)).port == 25
    assert parse_mail_server(("mail.corp", ":port", None)).port == 25
    assert parse_mail_server(("mail.corp", ":port", None, ":ssl", True)).port == 465
    assert parse_mail_server('("mail.corp" :port nil)').port == 25
    ms = parse_mail_server("mail.corp")
    assert (ms.ssl, ms.starttls) == (False, False)
    assert ms.tls == TlsSettings()
    assert ms.tls.verify == "required"


def test_mail_server_is_an_immutable_hashable_value() -> None:
    ms = parse_mail_server(("mail.corp", ":port", 587))
    with pytest.raises(AttributeError):
        ms.port = 25  # type: ignore[misc]
    assert hash(ms) == hash(parse_mail_server("mail.corp:587"))
    assert {ms, parse_mail_server("mail.corp:587")} == {ms}


def test_tls_files_are_not_opened_at_parse_time() -> None:
    ms = parse_mail_server(("mail.corp", ":ca-file", "/no/such/ca.pem", ":certificate", "/no/c"))
    assert ms.tls.ca_file == "/no/such/ca.pem"
    assert ms.tls.certificate == "/no/c"


def test_path_objects_are_accepted_for_file_keywords(tmp_path: Any) -> None:
    ms = parse_mail_server({"host": "mail.corp", "ca_file": tmp_path / "ca.pem"})
    assert ms.tls.ca_file == str(tmp_path / "ca.pem")


def test_no_warning_at_parse_time_for_unapplied_keywords() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ms = parse_mail_server(
            '("mail.corp" :ssl t :ciphersuites "TLS_AES_256_GCM_SHA384" :max-depth 3)'
        )
    assert ms.tls.ciphersuites == "TLS_AES_256_GCM_SHA384"
    assert ms.tls.max_depth == 3


def test_context_keyword() -> None:
    ctx = ssl.create_default_context()
    ms = parse_mail_server(("mail.corp", ":ssl", True, ":context", ctx))
    assert ms.tls.context is ctx
    ms2 = parse_mail_server({"host": "mail.corp", "context": ctx, "server_name": "smtp.x"})
    assert ms2.tls.context is ctx and ms2.tls.server_name == "smtp.x"
    with pytest.raises(ServerSpecError, match="cannot be written as Lisp text"):
        ms.to_lisp()
    with pytest.raises(ServerSpecError, match=":context cannot be combined with :ca-file"):
        parse_mail_server(("mail.corp", ":context", ctx, ":ca-file", "/ca.pem"))


# --------------------------------------------------------------------------- rendering


def test_to_lisp_and_to_python_are_canonical() -> None:
    ms = parse_mail_server({"host": "mail.corp", "port": 587, "starttls": True})
    assert ms.to_lisp() == '("mail.corp" :port 587 :starttls t)'
    assert ms.to_python() == "('mail.corp', ':port', 587, ':starttls', True)"
    assert repr(ms) == "MailServer(('mail.corp', ':port', 587, ':starttls', True))"
    full = parse_mail_server(
        '("mail.corp" :ssl t :starttls :required :method :tlsv1.3 :verify nil :ca_file "/c a.pem")'
    )
    assert full.to_lisp() == (
        '("mail.corp" :port 465 :ssl t :starttls :required :method :tlsv1.3'
        ' :ca-file "/c a.pem" :verify nil)'
    )
    assert full.to_python() == (
        "('mail.corp', ':port', 465, ':ssl', True, ':starttls', ':required', "
        "':method', ':tlsv1.3', ':ca-file', '/c a.pem', ':verify', None)"
    )


def test_certificate_password_is_redacted_everywhere_unless_revealed() -> None:
    secret = "s3cret-Pa55"
    ms = parse_mail_server(("mail.corp", ":certificate", "/c.pem", ":certificate-password", secret))
    shown = [
        repr(ms),
        str(ms),
        repr(ms.tls),
        str(ms.tls),
        ms.to_lisp(),
        ms.to_python(),
        to_lisp(ms),
        to_lisp(ms.tls),
        repr(dataclasses.asdict(ms)),
        str(dataclasses.asdict(ms)),
        repr(ms.tls.certificate_password),
        str(ms.tls.certificate_password),
    ]
    for text in shown:
        assert secret not in text
        assert "<redacted>" in text
    # writing a config back with the secret in it is an explicit call
    assert secret in ms.to_lisp(reveal_secrets=True)
    assert parse_mail_server(ms.to_lisp(reveal_secrets=True)) == ms
    assert parse_mail_server(to_lisp(ms, reveal_secrets=True)) == ms
    assert parse_mail_server(eval(ms.to_python(reveal_secrets=True), {"__builtins__": {}})) == ms
    assert ms.tls.certificate_password is not None
    assert ms.tls.certificate_password.reveal() == secret
    # the redacted rendering reads back to a spec that holds the marker, not the secret
    assert parse_mail_server(ms.to_lisp()) != ms


@pytest.mark.parametrize(
    "spec",
    [
        "mail.corp",
        ("mail.corp", 2525),
        '("mail.corp" :ssl t :starttls :required :method :tlsv1.3 :verify nil)',
        '("mail.corp" :certificate "/c.pem" :key "/k.pem" :ca-file "/ca.pem" :crl-check :all)',
        "[::1]:25",
    ],
)
def test_to_lisp_of_a_mail_server_round_trips(spec: object) -> None:
    ms = parse_mail_server(spec)
    assert parse_mail_server(read_lisp(to_lisp(ms))) == ms
    assert parse_mail_server(to_lisp(ms)) == ms
    tls_items = read_lisp(to_lisp(ms.tls))
    assert parse_mail_server(["x", *(tls_items or [])]).tls == ms.tls


# --------------------------------------------------------------------------- errors

ERRORS: List[Tuple[str, object, Sequence[str]]] = [
    # empty host
    ("empty", "", ["''", "non-empty host"]),
    ("empty in pair", ("", 25), ["non-empty host"]),
    ("empty in mapping", {"host": "", "port": 25}, ["non-empty host"]),
    ("empty in lisp", '("" :port 25)', ["non-empty host"]),
    ("blank", " ", ["host name without whitespace"]),
    # odd keyword list
    ("odd", ("mail.corp", ":port"), ["odd number", "keyword/value pairs"]),
    ("odd 3", ("mail.corp", ":port", 25, ":ssl"), ["odd number"]),
    ("port as text in a pair", ("mail.corp", "25"), ["odd number", "integer port"]),
    ("odd lisp", '("mail.corp" :port 25 :ssl)', ["odd number"]),
    # a key that is not a keyword
    ("int key", ("mail.corp", 25, 26), ["25 is not a keyword", "':port'"]),
    ("empty key", ("mail.corp", "", 26), ["'' is not a keyword"]),
    ("colon key", ("mail.corp", ":", 26), ["':' is not a keyword"]),
    ("None key", ("mail.corp", None, 26), ["None is not a keyword"]),
    ("mapping int key", {"host": "mail.corp", 25: 26}, ["25 is not a keyword"]),
    ("lisp string key", '("mail.corp" "port" 25 t 1)', ["True is not a keyword"]),
    # unknown keyword, listing the known ones
    (
        "unknown",
        ("mail.corp", ":prot", 25),
        ["unknown keyword :prot", "known keywords are", ":port", ":ssl", ":starttls", ":ca-file"],
    ),
    ("unknown host key", ("mail.corp", ":host", "x"), ["unknown keyword :host"]),
    ("unknown mapping", {"host": "mail.corp", "user": "me"}, ["unknown keyword :user"]),
    ("unknown lisp", '("mail.corp" :login "me")', ["unknown keyword :login"]),
    ("given twice", ("mail.corp", ":port", 1, "PORT", 2), [":port given twice"]),
    (
        "given twice, hyphen and underscore",
        ("mail.corp", ":ca-file", "/a", ":ca_file", "/b"),
        [":ca-file given twice"],
    ),
    # port
    ("port text", ("mail.corp", ":port", "25"), ["port '25'", "integer in 1..65535"]),
    ("port bool", ("mail.corp", ":port", True), ["port True", "integer in 1..65535"]),
    ("port bool pair", ("mail.corp", False), ["port False", "integer in 1..65535"]),
    ("port 0", ("mail.corp", ":port", 0), ["port 0", "1..65535"]),
    ("port 65536", ("mail.corp", 65536), ["port 65536", "1..65535"]),
    ("port negative", {"host": "mail.corp", "port": -25}, ["port -25", "1..65535"]),
    ("port float", ("mail.corp", 25.0), ["port 25.0", "1..65535"]),
    ("port None", ("mail.corp", None), ["port None", "1..65535"]),
    ("port list", ("mail.corp", [25]), ["port [25]", "1..65535"]),
    ("port text lisp", '("mail.corp" :port "25")', ["port '25'", "1..65535"]),
    ("port 0 text", "mail.corp:0", ["port 0", "1..65535"]),
    ("port 65536 text", "mail.corp:65536", ["port 65536", "1..65535"]),
    ("port [v6]:0", "[::1]:0", ["port 0", "1..65535"]),
    ("port digits", "mail.corp:" + "9" * 5000, ["1..65535"]),
    ("port digits [v6]", "[::1]:" + "9" * 5000, ["1..65535"]),
    ("port lisp pair", '("mail.corp" . 0)', ["port 0"]),
    # integer address
    ("negative int", -1, ["-1", "IPv4 address as an integer in 0..4294967295"]),
    ("big int", 2**32, ["4294967296", "0..4294967295"]),
    ("negative int pair", (-167838211, 25), ["-167838211", "0..4294967295"]),
    ("negative int lisp", "(-1 . 25)", ["0..4294967295"]),
    # flags
    ("ssl yes", ("mail.corp", ":ssl", "yes"), [":ssl 'yes'", "t/True, nil/None/False"]),
    ("ssl 1", ("mail.corp", ":ssl", 1), [":ssl 1"]),
    ("ssl required", ("mail.corp", ":ssl", ":required"), [":ssl ':required'"]),
    ("starttls maybe", ("mail.corp", ":starttls", "maybe"), [":starttls 'maybe'", ":required"]),
    ("starttls 2", ("mail.corp", ":starttls", 2), [":starttls 2"]),
    # TLS keyword values
    ("verify maybe", ("mail.corp", ":verify", "maybe"), [":verify", "'maybe'", ":optional"]),
    ("method sslv3", ("mail.corp", ":method", ":sslv3"), [":method", "sslv3", "insecure"]),
    ("method bogus", ("mail.corp", ":method", ":tlsv9"), [":method", ":tlsv1.2", ":sslv23"]),
    ("max-depth negative", ("mail.corp", ":max-depth", -1), [":max-depth", "non-negative"]),
    ("max-depth text", ("mail.corp", ":max-depth", "3"), [":max-depth", "non-negative"]),
    ("key alone", ("mail.corp", ":key", "/k.pem"), [":key", ":certificate"]),
    (
        "password alone",
        ("mail.corp", ":certificate-password", "pw"),
        [":certificate-password", ":certificate"],
    ),
    ("crl-check alone", ("mail.corp", ":crl-check", True), [":crl-check", ":crl-file"]),
    ("crl-check bogus", ("mail.corp", ":crl-check", ":some"), [":crl-check", ":peer, :all"]),
    ("context text", ("mail.corp", ":context", "ctx"), [":context", "ssl.SSLContext"]),
    ("ca-file empty", ("mail.corp", ":ca-file", ""), [":ca-file", "non-empty string"]),
    ("ca-file int", ("mail.corp", ":ca-file", 1), [":ca-file", "non-empty string"]),
    ("ca-file true", ("mail.corp", ":ca-file", True), [":ca-file", "non-empty string"]),
    ("ca-file LF", ("mail.corp", ":ca-file", "/a\n.pem"), [":ca-file", "CR, LF or NUL"]),
    ("server-name CR", ("mail.corp", ":server-name", "a\rb"), [":server-name", "CR, LF"]),
    # malformed Lisp text
    ("lisp unclosed", '("mail.corp" :port 25', ["position 0", "unclosed"]),
    ("lisp symbol", '("mail.corp" :port port)', ["position 19", "symbol 'port'"]),
    ("lisp trailing", '("mail.corp") 25', ["position 14"]),
    ("lisp string", '("mail.corp)', ["position 1", "unterminated string"]),
    ("lisp nil", "()", ["'()'", "expected a host name"]),
    ("lisp nested", '(("mail.corp" . 25))', ["the host as a string"]),
    # wrong type altogether
    ("None", None, ["None", "expected a host name"]),
    ("float", 1.5, ["1.5", "expected"]),
    ("bytes", b"mail.corp", ["b'mail.corp'", "expected"]),
    ("bool", True, ["True", "not a bool"]),
    ("empty tuple", (), ["()", "expected"]),
    ("empty list", [], ["[]", "expected"]),
    ("object", object(), ["object", "expected"]),
    ("set", {"mail.corp"}, ["{'mail.corp'}", "expected"]),
    ("mapping without host", {"port": 25}, ['one "host" key']),
    ("mapping with two hosts", {"host": "a", ":HOST": "b"}, ['one "host" key']),
    ("host None", (None, 25), ["the host as a string, integer or ipaddress object"]),
    ("host float", (1.5, ":port", 25), ["the host as a string"]),
    ("host bool", (True, 25), ["not a bool"]),
    ("host list", (["mail.corp"], 25), ["the host as a string"]),
    ("host Keyword", (Keyword("mail"), 25), ["the host as a string"]),
    ("host interface", ipaddress.IPv4Network("10.0.0.0/8"), ["expected"]),
    # CR, LF, NUL and other characters that do not belong in a host name
    ("CRLF injection", "mail.corp\r\nRCPT TO:<x@y>", ["'\\r'", "'\\n'", "host name without"]),
    ("NUL", "mail\x00corp", ["'\\x00'"]),
    ("trailing LF", "mail.corp\n", ["'\\n'"]),
    ("trailing LF host:port", "mail.corp:25\n", ["'\\n'"]),
    ("leading space", " mail.corp", ["' '"]),
    ("leading space host:port", " mail.corp:25", ["' '"]),
    ("tab", "mail\tcorp", ["'\\t'"]),
    ("space", "mail corp", ["' '"]),
    ("at", "user@mail.corp", ["'@'"]),
    ("angle", "<mail.corp>", ["'<'", "'>'"]),
    ("slash", "smtp://mail.corp", ["'/'"]),
    ("line separator", "mail\u2028corp", ["'\\u2028'"]),
    ("C1 control", "mail\x85corp", ["'\\x85'"]),
    ("DEL", "mail\x7fcorp", ["'\\x7f'"]),
    ("LF in pair", ("mail.corp\n", 25), ["'\\n'"]),
    ("CR in mapping", {"host": "mail\r.corp"}, ["'\\r'"]),
    ("LF in lisp", '("mail.corp\\n")'.replace("\\n", "\n"), ["'\\n'"]),
    ("bad v6", "::g", ["a host name or an IPv6 address"]),
    ("bad v6 bracketed", "[::g]:25", ["IPv6"]),
    ("name:", "mail.corp:", ["a host name or an IPv6 address"]),
    ("name:port:port", "mail.corp:25:26", ["a host name or an IPv6 address"]),
    ("[v6]:port in a pair", ("[::1]:25", 25), ["'['", "']'"]),
    # the external-program form is for send_letter only
    ("program", (":program", "sendmail -t -i"), ["send_letter only"]),
    ("program argv", [":program", ["sendmail", "-t"]], ["send_letter only"]),
    ("program Keyword", (Keyword("program"), "sendmail"), ["send_letter only"]),
    ("program upper", (":PROGRAM", "sendmail"), ["send_letter only"]),
    ("program lisp", '(:program "sendmail -t -i")', ["send_letter only"]),
]


@pytest.mark.parametrize(("spec", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(spec: object, words: Sequence[str]) -> None:
    with pytest.raises(ServerSpecError) as info:
        parse_mail_server(spec)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, PostOfficeError)
    message = str(err)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    if isinstance(err, LispSyntaxError):
        return
    assert "mail-server" in message
    lisp_text = isinstance(spec, str) and spec.lstrip().startswith(("(", "'("))
    shown = show(spec, 200)
    # Lisp text is shown as the value it reads to; a password is shown redacted; other
    # types than the built-in ones by their type name (their repr is the caller's code)
    if not lisp_text and "password" not in shown:
        assert shown in message


def test_error_messages_are_cut_when_the_value_is_long() -> None:
    with pytest.raises(ServerSpecError) as info:
        parse_mail_server(("mail.corp", ":bogus", "x" * 10_000))
    assert len(str(info.value)) < 1200
    assert "..." in str(info.value)


def test_lisp_syntax_errors_keep_their_position() -> None:
    with pytest.raises(LispSyntaxError) as info:
        parse_mail_server('("mail.corp" :port 25 :ssl tt)')
    assert info.value.position == 27
    # positions count from the start of the caller's text, white space included
    with pytest.raises(LispSyntaxError) as info:
        parse_mail_server('\n  ("a" :port x)')
    assert info.value.position == 14
    with pytest.raises(LispSyntaxError) as info:
        parse_transport('  (:program "sendmail')
    assert info.value.position == 12


@pytest.mark.parametrize(
    "spec",
    [
        ("mail.corp", ":certificate", "/c.pem", ":certificate-password", "s3cret!", ":bogus", 1),
        ("mail.corp", ":certificate-password", "s3cret!"),
        ("mail.corp", ":certificate-password", "s3cret!\n"),
        ("mail.corp", "certificate_password", "s3cret!", ":port", "x"),
        {"host": "mail.corp", "Certificate_Password": "s3cret!", "verify": "x"},
        '("mail.corp" :certificate-password "s3cret!" :bogus 1)',
        '("mail.corp" :CERTIFICATE_PASSWORD s3cret! :bogus 1)',
        ("mail.corp", ":certificate", "/c.pem", ":certificate-password", "s3cret!", ":port", 0),
        (1.5, ":certificate", "/c.pem", ":certificate-password", "s3cret!"),
    ],
)
def test_error_messages_never_show_the_certificate_password(spec: object) -> None:
    with pytest.raises(ServerSpecError) as info:
        parse_mail_server(spec)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value)


# --------------------------------------------------------------------------- :program


@pytest.mark.parametrize(
    ("spec", "command"),
    [
        ((":program", "sendmail -t -i"), "sendmail -t -i"),
        ([":program", "sendmail -t -i"], "sendmail -t -i"),
        ((Keyword("program"), "sendmail -t"), "sendmail -t"),
        ((":PROGRAM", "sendmail -t"), "sendmail -t"),
        ((":program", ["sendmail", "-t", "-i"]), ("sendmail", "-t", "-i")),
        ((":program", ("sendmail",)), ("sendmail",)),
        # Allegro's argv form: a proper list in Lisp text, 3 or more items in Python
        ('(:program "sendmail -t -i")', ("sendmail -t -i",)),
        ('(:program "/usr/sbin/sendmail" "-t" "-i")', ("/usr/sbin/sendmail", "-t", "-i")),
        ((":program", "/usr/sbin/sendmail", "-t", "-i"), ("/usr/sbin/sendmail", "-t", "-i")),
        ([":program", "sendmail", "-t"], ("sendmail", "-t")),
        ((Keyword("program"), "sendmail", "-oi"), ("sendmail", "-oi")),
        ('\'(:program ("sendmail" "-t"))', ("sendmail", "-t")),
        ('(:program . ("sendmail" "-t"))', ("sendmail", "-t")),
        ('(:program . "sendmail -t")', "sendmail -t"),
    ],
)
def test_parse_transport_program(spec: object, command: Union[str, Tuple[str, ...]]) -> None:
    result = parse_transport(spec)
    assert result == MailProgram(command)
    assert isinstance(result, MailProgram)


def test_parse_transport_passes_a_mail_program_through() -> None:
    program = MailProgram("sendmail -t")
    assert parse_transport(program) is program


@pytest.mark.parametrize(
    "spec",
    [
        (":program",),
        (":program", ""),
        (":program", "   "),
        (":program", []),
        (":program", ["sendmail", 1]),
        (":program", None),
        (":program", "sendmail", 1),
        (":program", "", "-t"),
        "(:program)",
        '(:program "")',
    ],
)
def test_parse_transport_program_errors(spec: object) -> None:
    with pytest.raises(ServerSpecError, match=":program"):
        parse_transport(spec)


def test_parse_transport_reports_bad_lisp_with_position() -> None:
    with pytest.raises(LispSyntaxError) as info:
        parse_transport('(:program "sendmail')
    assert info.value.position == 10


def test_parse_transport_other_errors_are_the_server_errors() -> None:
    with pytest.raises(ServerSpecError, match="non-empty host"):
        parse_transport("")
    with pytest.raises(ServerSpecError, match="expected"):
        parse_transport(None)


# --------------------------------------------------------------------------- properties

_LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,12}[A-Za-z0-9])?", fullmatch=True)
dns_names = st.lists(_LABEL, min_size=1, max_size=4).map(".".join) | st.sampled_from(
    ["localhost", "mail.corp", "bücher.example", "xn--bcher-kva.example", "MAIL.CORP."]
)
ipv4_hosts = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6_hosts = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
hosts = dns_names | ipv4_hosts | ipv6_hosts | st.sampled_from(["::1", "fe80::1%eth0"])
ports = st.integers(1, 65535)

# File names and other free text: anything but CR, LF, NUL (quotes, backslashes, non-ASCII).
free_text = st.text(
    st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), min_size=1
)
_METHODS = ["sslv23", "sslv3+", "tlsv1+", "tlsv1.1+", "tlsv1.2", "tlsv1.2+", "tlsv1.3", "tlsv1.3+"]

# canonical name -> strategy of a valid value as a caller might give it
TLS_VALUES: Dict[str, st.SearchStrategy[Any]] = {
    "method": st.sampled_from(_METHODS).map(Keyword),
    "certificate": free_text,
    "key": free_text,
    "certificate-password": free_text,
    "ca-file": free_text,
    "ca-directory": free_text,
    "crl-file": free_text,
    "crl-check": st.sampled_from(["peer", "all"]).map(Keyword),
    "verify": st.sampled_from([None, Keyword("optional"), Keyword("required")]),
    "max-depth": st.integers(0, 100),
    "ciphers": free_text,
    "ciphersuites": free_text,
    "server-name": dns_names,
}
assert set(TLS_VALUES) == set(TLS_KEYWORDS) - {"context"}


@st.composite
def tls_options(draw: st.DrawFn) -> Dict[str, Any]:
    names = draw(st.sets(st.sampled_from(sorted(TLS_VALUES)), max_size=len(TLS_VALUES)))
    if names & {"key", "certificate-password"}:
        names.add("certificate")
    if "crl-check" in names and not names & {"crl-file", "ca-file"}:
        names.add(draw(st.sampled_from(["crl-file", "ca-file"])))
    return {name: draw(TLS_VALUES[name]) for name in sorted(names)}


class Case:
    """One valid server, as the parts a caller writes and the value they mean."""

    def __init__(
        self,
        host: str,
        port: Optional[int],
        use_ssl: bool,
        starttls: StartTLS,
        tls: Dict[str, Any],
    ) -> None:
        self.host, self.port, self.ssl, self.starttls, self.tls = host, port, use_ssl, starttls, tls
        effective = port if port is not None else (465 if use_ssl else 25)
        self.expected = MailServer(host, effective, use_ssl, starttls, tls_settings(tls))

    def __repr__(self) -> str:
        return f"Case({self.host!r}, {self.port!r}, {self.ssl!r}, {self.starttls!r}, {self.tls!r})"

    @property
    def plain(self) -> bool:
        return not self.tls and not self.ssl and not self.starttls


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(
        draw(hosts),
        draw(st.none() | ports),
        draw(st.booleans()),
        draw(st.sampled_from([False, True, "required"])),
        draw(tls_options()),
    )


def _keywordish(name: str, draw: st.DrawFn) -> Any:
    """A keyword value (``:optional``) in one of the spellings callers use."""
    return draw(
        st.sampled_from(
            [Keyword(name), ":" + name, name, ":" + name.upper(), Keyword(name.upper())]
        )
    )


def _value(name: str, value: Any, draw: st.DrawFn) -> Any:
    if isinstance(value, Keyword):
        return _keywordish(value.name, draw)
    if value is None:  # only :verify nil
        return draw(st.sampled_from([None, False, "nil", ":nil", Keyword("nil")]))
    return value


def _flag(value: StartTLS, draw: st.DrawFn) -> Any:
    if value == "required":
        return _keywordish("required", draw)
    if value:
        return draw(st.sampled_from([True, "t", ":t", "T", Keyword("t")]))
    return draw(st.sampled_from([None, False, "nil", Keyword("nil")]))


def _pairs(case: Case, draw: st.DrawFn, key: Callable[[str], Any]) -> List[Tuple[Any, Any]]:
    """The keyword/value pairs of a case, in a drawn order, keys spelled by ``key``."""
    pairs: List[Tuple[Any, Any]] = []
    if case.port is not None:
        pairs.append((key("port"), case.port))
    if case.ssl or draw(st.booleans()):
        pairs.append((key("ssl"), _flag(case.ssl, draw)))
    if case.starttls or draw(st.booleans()):
        pairs.append((key("starttls"), _flag(case.starttls, draw)))
    for name, value in case.tls.items():
        pairs.append((key(name), _value(name, value, draw)))
    return draw(st.permutations(pairs))


def _host_value(host: str, draw: st.DrawFn) -> Any:
    """The host as a string, or as an integer / ipaddress object when it is an address."""
    choices: List[Any] = [host]
    with contextlib.suppress(ValueError):
        v4 = ipaddress.IPv4Address(host)
        choices += [int(v4), v4]
    with contextlib.suppress(ValueError):
        choices += [ipaddress.IPv6Address(host), f"[{host}]"]
    return draw(st.sampled_from(choices))


def _lisp_text(case: Case, draw: st.DrawFn) -> str:
    """Hand-written Lisp text: keys in any case and with underscores, comments, a quote."""
    pairs: List[Tuple[str, Any]] = []
    if case.port is not None:
        pairs.append(("port", case.port))
    if case.ssl or draw(st.booleans()):
        pairs.append(("ssl", case.ssl))
    if case.starttls or draw(st.booleans()):
        pairs.append(
            (
                "starttls",
                Keyword("required") if case.starttls == "required" else bool(case.starttls),
            )
        )
    pairs += list(case.tls.items())
    items: List[str] = [to_lisp(case.host)]
    for name, value in draw(st.permutations(pairs)):
        key = draw(st.sampled_from([name, name.upper(), name.replace("-", "_")]))
        if isinstance(value, Keyword):  # :optional or, as a string, ":optional"
            value = draw(st.sampled_from([value, str(value)]))
        items.append(f":{key} {to_lisp(value)}")
    quote = draw(st.sampled_from(["", "'"]))
    return quote + "(" + " ; a comment\n ".join(items) + ")"


def renderings(case: Case, draw: st.DrawFn) -> Dict[str, object]:
    ms = case.expected
    forms: Dict[str, object] = {
        "to_lisp": ms.to_lisp(reveal_secrets=True),
        "to_python": eval(ms.to_python(reveal_secrets=True), {"__builtins__": {}}),
        "keyword list": (
            _host_value(case.host, draw),
            *[x for kv in _pairs(case, draw, Keyword) for x in kv],
        ),
        "bare keys": [case.host, *[x for kv in _pairs(case, draw, str) for x in kv]],
        "underscore keys": tuple(
            [case.host]
            + [
                x
                for kv in _pairs(case, draw, lambda n: ":" + n.replace("-", "_").upper())
                for x in kv
            ]
        ),
        "mapping": {
            "host": _host_value(case.host, draw),
            **{k: v for k, v in _pairs(case, draw, lambda n: n.replace("-", "_"))},
        },
        "lisp text": _lisp_text(case, draw),
    }
    if case.plain:
        port = ms.port
        shown = f"[{case.host}]" if ":" in case.host else case.host
        forms["host:port"] = f"{shown}:{port}"
        forms["(host, port)"] = (_host_value(case.host, draw), port)
        forms["lisp pair"] = f"({to_lisp(case.host)} . {port})"
        if port == 25:
            forms["host"] = _host_value(case.host, draw)
    return forms


def _check_every_form(case: Case, draw: st.DrawFn) -> None:
    for name, form in renderings(case, draw).items():
        parsed = parse_mail_server(form)
        assert parsed == case.expected, f"{name}: {form!r}"
        assert parse_transport(form) == case.expected, f"{name}: {form!r}"


@given(cases(), st.data())
def test_every_equivalent_form_parses_to_the_same_server(case: Case, data: st.DataObject) -> None:
    _check_every_form(case, data.draw)


EXAMPLE_CASES = [
    Case("::1", 2525, False, False, {}),
    Case("fe80::1%eth0", None, False, False, {}),
    Case("10.1.2.3", None, False, False, {}),
    Case("mail.corp", None, True, "required", {"verify": None}),
    Case("mail.corp", None, False, False, {"verify": Keyword("optional")}),
    Case(
        "mail.corp",
        587,
        False,
        True,
        {
            "certificate": 'C:\\certs\\"client".pem',
            "key": "ключ.pem",
            "certificate-password": 'p@ss "w\\ord" ;)',
            "crl-check": Keyword("all"),
            "ca-file": ":ca.pem",
            "method": Keyword("tlsv1.3"),
            "max-depth": 0,
            "server-name": "smtp.example",
        },
    ),
]


# The random cases above get the profile's examples; these fixed ones vary only in
# spelling and order, which 50 draws each cover as well as 200 (six cases: 300 in all).
@pytest.mark.parametrize("case", EXAMPLE_CASES, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_every_equivalent_form_of_the_examples(case: Case, data: st.DataObject) -> None:
    _check_every_form(case, data.draw)


@given(cases())
@example(Case("fe80::1%eth0", None, True, True, {"server-name": "smtp.example"}))
@example(Case("mail.corp", None, False, False, {"ciphers": "\\\"'();: \t"}))
def test_render_then_read_is_the_identity(case: Case) -> None:
    ms = case.expected
    text = ms.to_lisp(reveal_secrets=True)
    assert parse_mail_server(text) == ms
    assert parse_mail_server(text).to_lisp(reveal_secrets=True) == text
    assert parse_mail_server(eval(ms.to_python(reveal_secrets=True), {"__builtins__": {}})) == ms
    assert parse_mail_server(ms) is ms
    if ms.tls.certificate_password is None:
        assert ms.to_lisp() == text
        assert parse_mail_server(read_lisp(to_lisp(ms))) == ms


_KEYWORDISH = st.sampled_from(
    [":port", "port", "PORT", ":ssl", ":starttls", "host", ":host", ":ca-file", "ca_file"]
    + [":" + k for k in TLS_KEYWORDS]
    + ["t", "nil", ":required", ":optional", ":peer", ":tlsv1.2", ":sslv3", ":program", ""]
)
junk_atoms = (
    st.text(max_size=20)
    | _KEYWORDISH
    | _KEYWORDISH.map(Keyword)
    | st.integers()
    | st.integers(-1, 70000)
    | st.none()
    | st.booleans()
    | st.floats()
    | st.binary(max_size=5)
    | hosts
    | st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
    | st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
)
junk = st.recursive(
    junk_atoms,
    lambda children: (
        st.lists(children, max_size=8)
        | st.lists(children, max_size=8).map(tuple)
        | st.dictionaries(junk_atoms, children, max_size=5)
    ),
    max_leaves=20,
)
_LISPY = st.text(alphabet=st.sampled_from(list("()\"\\';:. \n-+0123456789tnilsporTabc[]@")))


def _check_parsed(result: object) -> None:
    assert isinstance(result, (MailServer, MailProgram))
    if isinstance(result, MailServer):
        assert 1 <= result.port <= 65535
        assert result.host
        # whatever parses can be written back and read to the same value
        if result.tls.context is None:
            assert parse_mail_server(result.to_lisp()) == result


@given(junk | st.text() | _LISPY | st.tuples(hosts, junk_atoms) | st.tuples(_KEYWORDISH, junk))
@example("(" * 5000)
@example("mail.corp:" + "9" * 5000)
@example({"host": "a", "": 1})
@example((":program",))
@example([None])
@example({Keyword("host"): "a", "HOST": "b"})
@example(("[::1]:25",))
@example(("mail.corp", ":port", 25, ":port"))
def test_junk_parses_or_raises_server_spec_error(spec: object) -> None:
    try:
        result = parse_mail_server(spec)
    except ServerSpecError as exc:
        assert str(exc)
    else:
        _check_parsed(result)
    try:
        transport = parse_transport(spec)
    except ServerSpecError:
        pass
    else:
        _check_parsed(transport)


@given(hosts, ports)
def test_host_port_string_and_pair_agree(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    assert parse_mail_server(f"{shown}:{port}") == parse_mail_server((host, port))
    assert parse_mail_server((host, port)) == parse_mail_server([host, ":port", port])


@given(st.integers(0, 2**32 - 1))
def test_integer_addresses_are_ipv4(n: int) -> None:
    assert parse_mail_server(n).host == str(ipaddress.IPv4Address(n))
    assert parse_mail_server(n) == parse_mail_server(ipaddress.IPv4Address(n))


@given(st.integers(max_value=-1) | st.integers(min_value=2**32))
def test_integers_outside_ipv4_are_refused(n: int) -> None:
    with pytest.raises(ServerSpecError, match=r"0\.\.4294967295"):
        parse_mail_server(n)


@given(st.integers() | st.booleans() | st.floats() | st.text(max_size=6) | st.none())
def test_ports_are_checked(port: object) -> None:
    valid = isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    for spec in (("mail.corp", ":port", port), {"host": "mail.corp", "port": port}):
        if port is None:  # :port nil is "not given", as a Python default of None
            assert parse_mail_server(spec).port == 25
        elif valid:
            assert parse_mail_server(spec).port == port
        else:
            with pytest.raises(ServerSpecError):
                parse_mail_server(spec)


def test_any_mapping_type_is_accepted() -> None:
    from collections import OrderedDict
    from types import MappingProxyType

    for make in (dict, OrderedDict, MappingProxyType):
        assert parse_mail_server(make({"host": "mail.corp", "port": 26})) == server("mail.corp", 26)


def test_a_mail_server_built_by_hand_is_checked_too() -> None:
    good = MailServer("mail.corp", 587, starttls=True)
    assert parse_mail_server(good) == good
    for bad in (
        MailServer("mail\r\n.corp"),
        MailServer("mail.corp", 0),
        MailServer("mail.corp", "25"),  # type: ignore[arg-type]
        MailServer("mail.corp", starttls="sometimes"),
        MailServer("mail.corp", tls=TlsSettings(verify="bogus")),
    ):
        with pytest.raises(ServerSpecError):
            parse_mail_server(bad)


# --------------------------------------------------------------------------- the parse cache


def test_a_repeated_spec_parses_the_same_and_a_refused_one_stays_refused() -> None:
    for _ in range(2):
        assert parse_mail_server(("mail.corp", 587)) == MailServer("mail.corp", 587)
        assert parse_mail_server("mail.corp:2525") == MailServer("mail.corp", 2525)
        with pytest.raises(ServerSpecError):
            parse_mail_server("mail.corp:0")


@pytest.mark.parametrize("port", [587.0, True])
def test_a_port_that_only_compares_equal_to_an_int_is_not_served_from_the_cache(
    port: object,
) -> None:
    int_port = int(port)  # type: ignore[call-overload]
    assert parse_mail_server(("mail.corp", int_port)).port == int_port
    with pytest.raises(ServerSpecError):
        parse_mail_server(("mail.corp", port))


def test_a_spec_with_tls_settings_is_not_kept() -> None:
    text = '("mail.corp" :ssl t :ca-file "/etc/ssl/ca.pem")'
    assert parse_mail_server(text) == parse_mail_server(text)
    assert parse_mail_server(text) is not parse_mail_server(text)
    assert all(server.tls == TlsSettings() for server in server_module._PARSED.values())


def test_the_cache_stays_bounded() -> None:
    for port in range(1, 1000):
        parse_mail_server(("mail.corp", port))
    assert len(server_module._PARSED) <= server_module._PARSED_MAX
