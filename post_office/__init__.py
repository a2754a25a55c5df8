"""post_office: Allegro CL's ``net.post_office`` mail API for Python, over smtplib.

Import everything from here; submodules are an implementation detail.
"""

from __future__ import annotations

from typing import List, Optional, TextIO, Tuple, Union

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
from .netmail import extract_email_addresses, parse_email_address
from .options import OAuth2Token
from .resolve import valid_email_domain_p
from .sink import ReceivedMessage, Sink, make_throwaway_certificate
from .spec import MailProgram, MailServer, parse_mail_server
from .tls import Secret, TlsSettings, make_ssl_context

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
    "Secret",
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
    "parse_email_address",
    "parse_mail_server",
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
    "with_mime_part_constructed_stream",
]
