"""post_office: Allegro CL's ``net.post_office`` mail API for Python, over smtplib.

Import everything from here; submodules are an implementation detail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, TextIO, Tuple, Union

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
    StartTLSError,
    TLSError,
)
from .letter import send_letter
from .lisp import Keyword, read_lisp, to_lisp
from .mime import (
    MimePart,
    make_mime_part,
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
    seed_boundaries,
    with_mime_part_constructed_stream,
)
from .netmail import extract_email_addresses, parse_email_address
from .options import OAuth2Token
from .resolve import valid_email_domain_p
from .spec import MailProgram, MailServer, parse_mail_server
from .tls import TlsSettings, make_ssl_context

if TYPE_CHECKING:  # loaded on first use by __getattr__ below
    from .sink import Sink
    from .sink_certs import make_throwaway_certificate
    from .sink_store import ReceivedMessage

#: Allegro's ``*smtp-debug*``: None (quiet), True (standard output) or a text stream that
#: receives every SMTP command and reply (credentials redacted).  Read at call time.
smtp_debug: Union[bool, TextIO, None] = None

#: Allegro's ``socket:*dns-mode*``: ``(":acldns", ":clib")`` looks up a mail-server name's
#: MX records first, ``":clib"`` connects to the name's own address (README "DNS").
dns_mode: Union[str, Tuple[str, ...]] = (":acldns", ":clib")
#: Allegro's ``socket:*dns-nameserver*``: None (the system's configuration) or a list of
#: ``"address"`` / ``"address:port"`` strings that receive every DNS question.
dns_nameservers: Optional[List[str]] = None

__version__ = "0.1.0"

#: Names loaded on first use (PEP 562), so that ``import post_office`` loads neither the
#: embedded sink nor what it needs (aiosmtpd, asyncio, cryptography): name -> module.
_LAZY = {
    "ReceivedMessage": "sink_store",
    "Sink": "sink",
    "make_throwaway_certificate": "sink_certs",
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
    "PostOfficeError",
    "ProgramError",
    "ProtocolError",
    "ReceivedMessage",
    "RecipientRefusedError",
    "SMTPError",
    "SMTPTimeoutError",
    "SMTPUTF8Error",
    "SenderRefusedError",
    "ServerDisconnectedError",
    "ServerSpecError",
    "SessionStateError",
    "Sink",
    "SinkUnavailableError",
    "SmtpSession",
    "StartTLSError",
    "TLSError",
    "TlsSettings",
    "dns_mode",
    "dns_nameservers",
    "extract_email_addresses",
    "make_mime_part",
    "make_ssl_context",
    "make_throwaway_certificate",
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
    "parse_email_address",
    "parse_mail_server",
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
    "with_mime_part_constructed_stream",
]
