"""post_office: Allegro CL's ``net.post_office`` mail API for Python, over smtplib.

Import everything from here; submodules are an implementation detail.
"""

from __future__ import annotations

from typing import TextIO, Union

from .api import send_smtp, send_smtp_auth
from .errors import (
    AddressError,
    ArgumentError,
    AuthenticationError,
    CertificateError,
    ConnectError,
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
    SMTPError,
    SMTPTimeoutError,
    SMTPUTF8Error,
    StartTLSError,
    TLSError,
)
from .lisp import Keyword, read_lisp, to_lisp
from .server import MailProgram, MailServer, parse_mail_server
from .smtp import OAuth2Token
from .tls import TlsSettings, make_ssl_context

#: Allegro's ``*smtp-debug*``: None (quiet), True (standard output) or a text stream that
#: receives every SMTP command and reply (credentials redacted).  Read at call time.
smtp_debug: Union[bool, TextIO, None] = None

__version__ = "0.1.0"

__all__ = [
    "AddressError",
    "ArgumentError",
    "AuthenticationError",
    "CertificateError",
    "ConnectError",
    "DataError",
    "HeaderError",
    "HeloError",
    "Keyword",
    "LispSyntaxError",
    "MailProgram",
    "MailServer",
    "MessageArgumentError",
    "MimeError",
    "NotSupportedError",
    "OAuth2Token",
    "OptionError",
    "PostOfficeError",
    "ProgramError",
    "ProtocolError",
    "RecipientRefusedError",
    "SMTPError",
    "SMTPTimeoutError",
    "SMTPUTF8Error",
    "SenderRefusedError",
    "ServerDisconnectedError",
    "ServerSpecError",
    "StartTLSError",
    "TLSError",
    "TlsSettings",
    "make_ssl_context",
    "parse_mail_server",
    "read_lisp",
    "send_smtp",
    "send_smtp_auth",
    "smtp_debug",
    "to_lisp",
]
