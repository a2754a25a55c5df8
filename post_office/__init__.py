"""post_office: Allegro CL's ``net.post_office`` mail API for Python, over smtplib.

Import everything from here; submodules are an implementation detail.  Each public name
is loaded from its module on first use (PEP 562), so ``import post_office`` costs next to
nothing and a program that only sends mail never loads the MIME, letter or sink modules
(README "Architecture"; ``bench/bench_import.py`` measures it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, TextIO, Tuple, Union

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads each on first use
    from .api import send_smtp, send_smtp_auth, test_email_address
    from .bulk import SmtpSession, smtp_session
    from .errors import (
        AddressError,
        AddressSyntaxError,
        AddressTypeError,
        ArgumentError,
        AuthenticationError,
        CertificateError,
        ConnectError,
        ConnectionFailedError,
        ConnectTimeoutError,
        DataError,
        HeaderError,
        HeloError,
        LispSyntaxError,
        MessageArgumentError,
        MimeError,
        NotSupportedError,
        OptionError,
        PostOfficeError,
        ProgramError,
        ProtocolError,
        RecipientRefusedError,
        SenderRefusedError,
        ServerDisconnectedError,
        ServerSpecError,
        SessionStateError,
        SinkUnavailableError,
        SMTPError,
        SMTPTimeoutError,
        SMTPUTF8Error,
        SocketError,
        StartTLSError,
        TLSError,
    )
    from .headers import decode_header_text
    from .letter import send_letter
    from .lisp import Keyword, read_lisp, to_lisp
    from .mime import (
        MimePart,
        base64_encode_stream,
        make_mime_part,
        map_over_parts,
        mime_get_header,
        mime_part_boundary,
        mime_part_constructed_p,
        mime_part_description,
        mime_part_encoding,
        mime_part_headers,
        mime_part_id,
        mime_part_p,
        mime_part_parameters,
        mime_part_parts,
        mime_part_subtype,
        mime_part_type,
        mime_part_writer,
        qp_encode_stream,
        seed_boundaries,
        with_mime_part_constructed_stream,
    )
    from .mime_decode import (
        base64_decode_stream,
        qp_decode_stream,
        qp_decode_string,
        qp_decode_usb8,
        with_decoded_part_body_stream,
    )
    from .netmail import ParsedAddress, extract_email_addresses, parse_email_address
    from .options import OAuth2Token
    from .resolve import valid_email_domain_p
    from .sink import Sink
    from .sink_certs import make_throwaway_certificate
    from .sink_store import ReceivedMessage
    from .spec import MailProgram, MailServer, parse_mail_server
    from .tls import Secret, TlsSettings, make_ssl_context

__version__ = "0.1.0"

#: Allegro's ``*smtp-debug*``: None (quiet), True (standard output) or a text stream that
#: receives every SMTP command and reply (credentials redacted).  Read at call time.
smtp_debug: Union[bool, TextIO, None] = None

#: Allegro's ``socket:*dns-mode*``: ``(":acldns", ":clib")`` looks up a mail-server name's
#: MX records first, ``":clib"`` connects to the name's own address (README "DNS").
dns_mode: Union[str, Tuple[str, ...]] = (":acldns", ":clib")
#: Allegro's ``socket:*dns-nameserver*``: None (the system's configuration) or a list of
#: ``"address"`` / ``"address:port"`` strings that receive every DNS question.
dns_nameservers: Optional[List[str]] = None
#: Python only, as Postfix's ``smtp_mx_address_limit``: at most this many addresses of a
#: mail-server name are tried, however many DNS lists (README "DNS").
mx_address_limit: int = 5

#: Where each public name lives.
_LAZY = {
    "ConnectionFailedError": "errors",
    "SocketError": "errors",
    "Secret": "tls",
    "base64_decode_stream": "mime_decode",
    "base64_encode_stream": "mime",
    "decode_header_text": "headers",
    "qp_decode_stream": "mime_decode",
    "qp_decode_string": "mime_decode",
    "qp_decode_usb8": "mime_decode",
    "with_decoded_part_body_stream": "mime_decode",
    "ParsedAddress": "netmail",
    "map_over_parts": "mime",
    "qp_encode_stream": "mime",
    "AddressError": "errors",
    "AddressSyntaxError": "errors",
    "AddressTypeError": "errors",
    "ArgumentError": "errors",
    "AuthenticationError": "errors",
    "CertificateError": "errors",
    "ConnectError": "errors",
    "ConnectTimeoutError": "errors",
    "DataError": "errors",
    "HeaderError": "errors",
    "HeloError": "errors",
    "Keyword": "lisp",
    "LispSyntaxError": "errors",
    "MailProgram": "spec",
    "MailServer": "spec",
    "MessageArgumentError": "errors",
    "MimeError": "errors",
    "MimePart": "mime",
    "NotSupportedError": "errors",
    "OAuth2Token": "options",
    "OptionError": "errors",
    "PostOfficeError": "errors",
    "ProgramError": "errors",
    "ProtocolError": "errors",
    "ReceivedMessage": "sink_store",
    "RecipientRefusedError": "errors",
    "SMTPError": "errors",
    "SMTPTimeoutError": "errors",
    "SMTPUTF8Error": "errors",
    "SenderRefusedError": "errors",
    "ServerDisconnectedError": "errors",
    "ServerSpecError": "errors",
    "SessionStateError": "errors",
    "Sink": "sink",
    "SinkUnavailableError": "errors",
    "SmtpSession": "bulk",
    "StartTLSError": "errors",
    "TLSError": "errors",
    "TlsSettings": "tls",
    "extract_email_addresses": "netmail",
    "make_mime_part": "mime",
    "make_ssl_context": "tls",
    "make_throwaway_certificate": "sink_certs",
    "mime_get_header": "mime",
    "mime_part_boundary": "mime",
    "mime_part_constructed_p": "mime",
    "mime_part_description": "mime",
    "mime_part_encoding": "mime",
    "mime_part_headers": "mime",
    "mime_part_id": "mime",
    "mime_part_p": "mime",
    "mime_part_parameters": "mime",
    "mime_part_parts": "mime",
    "mime_part_subtype": "mime",
    "mime_part_type": "mime",
    "mime_part_writer": "mime",
    "parse_email_address": "netmail",
    "parse_mail_server": "spec",
    "read_lisp": "lisp",
    "seed_boundaries": "mime",
    "send_letter": "letter",
    "send_smtp": "api",
    "send_smtp_auth": "api",
    "smtp_session": "bulk",
    "test_email_address": "api",
    "to_lisp": "lisp",
    "valid_email_domain_p": "resolve",
    "with_mime_part_constructed_stream": "mime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AddressError",
    "AddressSyntaxError",
    "AddressTypeError",
    "ArgumentError",
    "AuthenticationError",
    "CertificateError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionFailedError",
    "DataError",
    "HeaderError",
    "HeloError",
    "Keyword",
    "LispSyntaxError",
    "MailProgram",
    "MailServer",
    "MessageArgumentError",
    "MimeError",
    "MimePart",
    "NotSupportedError",
    "OAuth2Token",
    "OptionError",
    "ParsedAddress",
    "PostOfficeError",
    "ProgramError",
    "ProtocolError",
    "ReceivedMessage",
    "RecipientRefusedError",
    "SMTPError",
    "SMTPTimeoutError",
    "SMTPUTF8Error",
    "Secret",
    "SenderRefusedError",
    "ServerDisconnectedError",
    "ServerSpecError",
    "SessionStateError",
    "Sink",
    "SinkUnavailableError",
    "SmtpSession",
    "SocketError",
    "StartTLSError",
    "TLSError",
    "TlsSettings",
    "base64_decode_stream",
    "base64_encode_stream",
    "decode_header_text",
    "dns_mode",
    "dns_nameservers",
    "extract_email_addresses",
    "make_mime_part",
    "make_ssl_context",
    "make_throwaway_certificate",
    "map_over_parts",
    "mime_get_header",
    "mime_part_boundary",
    "mime_part_constructed_p",
    "mime_part_description",
    "mime_part_encoding",
    "mime_part_headers",
    "mime_part_id",
    "mime_part_p",
    "mime_part_parameters",
    "mime_part_parts",
    "mime_part_subtype",
    "mime_part_type",
    "mime_part_writer",
    "mx_address_limit",
    "parse_email_address",
    "parse_mail_server",
    "qp_decode_stream",
    "qp_decode_string",
    "qp_decode_usb8",
    "qp_encode_stream",
    "read_lisp",
    "seed_boundaries",
    "send_letter",
    "send_smtp",
    "send_smtp_auth",
    "smtp_debug",
    "smtp_session",
    "test_email_address",
    "to_lisp",
    "valid_email_domain_p",
    "with_decoded_part_body_stream",
    "with_mime_part_constructed_stream",
]
