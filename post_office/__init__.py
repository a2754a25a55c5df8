"""post_office: Allegro CL's ``net.post_office`` mail API for Python, over smtplib.

Import everything from here; subpackages are an implementation detail (README
"Architecture").  Each public name is loaded from its module on first use (PEP 562), so
``import post_office`` costs next to nothing and a program that only sends mail never loads
the MIME, letter or sink modules (``bench/bench_import.py`` measures it).  Allegro's
specials (``smtp_debug``, ``dns_mode``, ``dns_nameservers``, ``mx_address_limit``, and
``mta_sts``, ``mta_sts_context``, ``mta_sts_port``) are
attributes of the package that read and assign :mod:`post_office.specials`.
"""

from __future__ import annotations

import sys
import types

from . import specials as _specials

TYPE_CHECKING = False  # not typing's: `import post_office` does not load typing

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads each on first use
    import ssl
    from typing import List, Optional, TextIO, Tuple, Union

    from .api import (
        send_letter as send_letter,
    )
    from .api import (
        send_smtp as send_smtp,
    )
    from .api import (
        send_smtp_auth as send_smtp_auth,
    )
    from .api import (
        smtp_session as smtp_session,
    )
    from .api import (
        test_email_address as test_email_address,
    )
    from .client.bulk import (
        SmtpSession as SmtpSession,
    )
    from .client.delivery import (
        Delivery as Delivery,
    )
    from .client.resolve import (
        valid_email_domain_p as valid_email_domain_p,
    )
    from .errors import (
        AddressError as AddressError,
    )
    from .errors import (
        AddressSyntaxError as AddressSyntaxError,
    )
    from .errors import (
        AddressTypeError as AddressTypeError,
    )
    from .errors import (
        ArgumentError as ArgumentError,
    )
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        CertificateError as CertificateError,
    )
    from .errors import (
        ConnectError as ConnectError,
    )
    from .errors import (
        ConnectionFailedError as ConnectionFailedError,
    )
    from .errors import (
        ConnectTimeoutError as ConnectTimeoutError,
    )
    from .errors import (
        DataError as DataError,
    )
    from .errors import (
        HeaderError as HeaderError,
    )
    from .errors import (
        HeloError as HeloError,
    )
    from .errors import (
        LispSyntaxError as LispSyntaxError,
    )
    from .errors import (
        MessageArgumentError as MessageArgumentError,
    )
    from .errors import (
        MimeError as MimeError,
    )
    from .errors import (
        NotSupportedError as NotSupportedError,
    )
    from .errors import (
        OptionError as OptionError,
    )
    from .errors import (
        PostOfficeError as PostOfficeError,
    )
    from .errors import (
        ProgramError as ProgramError,
    )
    from .errors import (
        ProtocolError as ProtocolError,
    )
    from .errors import (
        RecipientRefusedError as RecipientRefusedError,
    )
    from .errors import (
        SenderRefusedError as SenderRefusedError,
    )
    from .errors import (
        ServerDisconnectedError as ServerDisconnectedError,
    )
    from .errors import (
        ServerSpecError as ServerSpecError,
    )
    from .errors import (
        SessionStateError as SessionStateError,
    )
    from .errors import (
        SinkUnavailableError as SinkUnavailableError,
    )
    from .errors import (
        SMTPError as SMTPError,
    )
    from .errors import (
        SMTPTimeoutError as SMTPTimeoutError,
    )
    from .errors import (
        SMTPUTF8Error as SMTPUTF8Error,
    )
    from .errors import (
        SocketError as SocketError,
    )
    from .errors import (
        StartTLSError as StartTLSError,
    )
    from .errors import (
        TLSError as TLSError,
    )
    from .message.addresses import (
        Recipients as Recipients,
    )
    from .message.dkim import (
        DkimKey as DkimKey,
    )
    from .message.headers import (
        decode_header_text as decode_header_text,
    )
    from .message.letter import (
        Attachment as Attachment,
    )
    from .message.letter import (
        HeaderValue as HeaderValue,
    )
    from .message.letter import (
        LetterOptions as LetterOptions,
    )
    from .message.netmail import (
        ParsedAddress as ParsedAddress,
    )
    from .message.netmail import (
        extract_email_addresses as extract_email_addresses,
    )
    from .message.netmail import (
        parse_email_address as parse_email_address,
    )
    from .mime.build import (
        MimePart as MimePart,
    )
    from .mime.build import (
        base64_encode_stream as base64_encode_stream,
    )
    from .mime.build import (
        make_mime_part as make_mime_part,
    )
    from .mime.build import (
        map_over_parts as map_over_parts,
    )
    from .mime.build import (
        mime_get_header as mime_get_header,
    )
    from .mime.build import (
        mime_part_boundary as mime_part_boundary,
    )
    from .mime.build import (
        mime_part_constructed_p as mime_part_constructed_p,
    )
    from .mime.build import (
        mime_part_description as mime_part_description,
    )
    from .mime.build import (
        mime_part_encoding as mime_part_encoding,
    )
    from .mime.build import (
        mime_part_headers as mime_part_headers,
    )
    from .mime.build import (
        mime_part_id as mime_part_id,
    )
    from .mime.build import (
        mime_part_p as mime_part_p,
    )
    from .mime.build import (
        mime_part_parameters as mime_part_parameters,
    )
    from .mime.build import (
        mime_part_parts as mime_part_parts,
    )
    from .mime.build import (
        mime_part_subtype as mime_part_subtype,
    )
    from .mime.build import (
        mime_part_type as mime_part_type,
    )
    from .mime.build import (
        mime_part_writer as mime_part_writer,
    )
    from .mime.build import (
        qp_encode_stream as qp_encode_stream,
    )
    from .mime.build import (
        seed_boundaries as seed_boundaries,
    )
    from .mime.build import (
        with_mime_part_constructed_stream as with_mime_part_constructed_stream,
    )
    from .mime.decode import (
        base64_decode_stream as base64_decode_stream,
    )
    from .mime.decode import (
        qp_decode_stream as qp_decode_stream,
    )
    from .mime.decode import (
        qp_decode_string as qp_decode_string,
    )
    from .mime.decode import (
        qp_decode_usb8 as qp_decode_usb8,
    )
    from .mime.decode import (
        with_decoded_part_body_stream as with_decoded_part_body_stream,
    )
    from .protocol.stage import (
        Stage as Stage,
    )
    from .sink.certs import (
        make_throwaway_certificate as make_throwaway_certificate,
    )
    from .sink.server import (
        Sink as Sink,
    )
    from .sink.store import (
        ReceivedMessage as ReceivedMessage,
    )
    from .spec.lisp import (
        Keyword as Keyword,
    )
    from .spec.lisp import (
        read_lisp as read_lisp,
    )
    from .spec.lisp import (
        to_lisp as to_lisp,
    )
    from .spec.mailserver import (
        MailServer as MailServer,
    )
    from .spec.mailserver import (
        ServerArgument as ServerArgument,
    )
    from .spec.mailserver import (
        parse_mail_server as parse_mail_server,
    )
    from .spec.options import (
        Credentials as Credentials,
    )
    from .spec.options import (
        OAuth2Token as OAuth2Token,
    )
    from .spec.tls import (
        Secret as Secret,
    )
    from .spec.tls import (
        TlsSettings as TlsSettings,
    )
    from .spec.tls import (
        make_ssl_context as make_ssl_context,
    )
    from .spec.transport import (
        MailProgram as MailProgram,
    )
    from .spec.transport import (
        TransportArgument as TransportArgument,
    )

    #: Allegro's ``*smtp-debug*``: None (quiet), True (standard output) or a text stream
    #: that receives every SMTP command and reply (credentials redacted).  Read at call time.
    smtp_debug: Union[bool, TextIO, None]
    #: Allegro's ``socket:*dns-mode*``: ``(":acldns", ":clib")`` looks up a mail-server
    #: name's MX records first, ``":clib"`` connects to the name's own address (README "DNS").
    dns_mode: Union[str, Tuple[str, ...]]
    #: Allegro's ``socket:*dns-nameserver*``: None (the system's configuration) or a list of
    #: ``"address"`` / ``"address:port"`` strings that receive every DNS question.
    dns_nameservers: Optional[List[str]]
    #: Python only, as Postfix's ``smtp_mx_address_limit``: at most this many addresses of
    #: a mail-server name are tried, however many DNS lists (README "DNS").
    mx_address_limit: int
    #: Python only: MTA-STS (RFC 8461) for delivery through an MX answer: ``"auto"``
    #: (applied where a domain publishes a policy), ``"off"`` or ``"require"`` (README
    #: "MTA-STS").
    mta_sts: str
    #: The :class:`ssl.SSLContext` that fetches MTA-STS policies (None: the system's trust
    #: store) and the HTTPS port they are fetched from (README "MTA-STS").
    mta_sts_context: Optional[ssl.SSLContext]
    mta_sts_port: int

__version__ = "0.1.0"

#: The one table of the public surface: each name and the module it lives in (relative
#: to this package).  ``__all__`` and ``dir(post_office)`` are made from it.
_PUBLIC = {
    "AddressError": "errors",
    "AddressSyntaxError": "errors",
    "AddressTypeError": "errors",
    "ArgumentError": "errors",
    "Attachment": "message.letter",
    "AuthenticationError": "errors",
    "base64_decode_stream": "mime.decode",
    "base64_encode_stream": "mime.build",
    "CertificateError": "errors",
    "ConnectError": "errors",
    "ConnectionFailedError": "errors",
    "ConnectTimeoutError": "errors",
    "Credentials": "spec.options",
    "DataError": "errors",
    "Delivery": "client.delivery",
    "DkimKey": "message.dkim",
    "decode_header_text": "message.headers",
    "extract_email_addresses": "message.netmail",
    "HeaderError": "errors",
    "HeaderValue": "message.letter",
    "HeloError": "errors",
    "Keyword": "spec.lisp",
    "LetterOptions": "message.letter",
    "LispSyntaxError": "errors",
    "MailProgram": "spec.transport",
    "MailServer": "spec.mailserver",
    "make_mime_part": "mime.build",
    "make_ssl_context": "spec.tls",
    "make_throwaway_certificate": "sink.certs",
    "map_over_parts": "mime.build",
    "MessageArgumentError": "errors",
    "mime_get_header": "mime.build",
    "mime_part_boundary": "mime.build",
    "mime_part_constructed_p": "mime.build",
    "mime_part_description": "mime.build",
    "mime_part_encoding": "mime.build",
    "mime_part_headers": "mime.build",
    "mime_part_id": "mime.build",
    "mime_part_p": "mime.build",
    "mime_part_parameters": "mime.build",
    "mime_part_parts": "mime.build",
    "mime_part_subtype": "mime.build",
    "mime_part_type": "mime.build",
    "mime_part_writer": "mime.build",
    "MimeError": "errors",
    "MimePart": "mime.build",
    "NotSupportedError": "errors",
    "OAuth2Token": "spec.options",
    "OptionError": "errors",
    "parse_email_address": "message.netmail",
    "parse_mail_server": "spec.mailserver",
    "ParsedAddress": "message.netmail",
    "PostOfficeError": "errors",
    "ProgramError": "errors",
    "ProtocolError": "errors",
    "qp_decode_stream": "mime.decode",
    "qp_decode_string": "mime.decode",
    "qp_decode_usb8": "mime.decode",
    "qp_encode_stream": "mime.build",
    "read_lisp": "spec.lisp",
    "ReceivedMessage": "sink.store",
    "RecipientRefusedError": "errors",
    "Recipients": "message.addresses",
    "Secret": "spec.tls",
    "seed_boundaries": "mime.build",
    "send_letter": "api",
    "send_smtp": "api",
    "send_smtp_auth": "api",
    "SenderRefusedError": "errors",
    "ServerArgument": "spec.mailserver",
    "ServerDisconnectedError": "errors",
    "ServerSpecError": "errors",
    "SessionStateError": "errors",
    "Sink": "sink.server",
    "SinkUnavailableError": "errors",
    "smtp_session": "api",
    "SMTPError": "errors",
    "SmtpSession": "client.bulk",
    "SMTPTimeoutError": "errors",
    "SMTPUTF8Error": "errors",
    "SocketError": "errors",
    "Stage": "protocol.stage",
    "StartTLSError": "errors",
    "test_email_address": "api",
    "TLSError": "errors",
    "TlsSettings": "spec.tls",
    "to_lisp": "spec.lisp",
    "TransportArgument": "spec.transport",
    "valid_email_domain_p": "client.resolve",
    "with_decoded_part_body_stream": "mime.decode",
    "with_mime_part_constructed_stream": "mime.build",
}

__all__ = sorted([*_PUBLIC, *_specials.NAMES], key=lambda name: (name.lower(), name))


class _Package(types.ModuleType):
    """The package's module type: its specials are properties over :mod:`.specials`."""

    def __dir__(self) -> List[str]:
        return [*__all__, "__version__"]


def _special(name: str) -> property:
    return property(
        lambda module: _specials.value(name),
        lambda module, value: _specials.assign(name, value),
        lambda module: _specials.reset(name),
    )


for _name in _specials.NAMES:
    setattr(_Package, _name, _special(_name))
sys.modules[__name__].__class__ = _Package
del _name

if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name fails mypy

    def __getattr__(name: str) -> object:
        module = _PUBLIC.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        qualified = f"{__name__}.{module}"
        __import__(qualified)  # not importlib.import_module: importlib is one more module to load
        value = getattr(sys.modules[qualified], name)
        globals()[name] = value
        return value
