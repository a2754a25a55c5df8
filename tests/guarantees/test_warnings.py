"""Every warning the package emits points at the caller's line, whichever entry point led
to it: a warning names the line to change, not a line of post_office.

The package warns in four places, all through ``post_office.warn.warn``, which walks out
of the package's frames:

- the server offers no AUTH (``login.py``): the message goes without it, as in Allegro;
- the server offers AUTH, but no mechanism post_office speaks (``login.py``);
- ``:ciphersuites`` / ``:max-depth`` are accepted but cannot be applied (``tls.py``, when
  the TLS context is made);
- ``bcc`` with the ``:program`` transport (``letter.py``).

For each, every public entry point that can reach it is called from a line of this file,
and the warning's ``filename`` must be this file and its ``lineno`` that line.  The calls
sit in one-line lambdas, whose first line is the calling line.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Callable, Dict, Iterator, List, Type

import pytest
from support.faultserver import FaultServer, drop
from support.servers import PASSWORD, USER

from post_office import (
    OAuth2Token,
    PostOfficeError,
    make_ssl_context,
    parse_mail_server,
    send_letter,
    send_smtp,
    send_smtp_auth,
    smtp_session,
)
from post_office import test_email_address as vrfy  # not collected as a test

FROM = "me@example.test"
TO = "you@example.test"
T = 10  # the timeout: a client stuck waiting fails quickly
NO_AUTH = "does not offer AUTH"
NO_SHARED = "none of which post_office speaks"
UNAPPLIED = ":ciphersuites and :max-depth are accepted but not applied"
BCC = "cannot deliver to them"

Factory = Callable[..., FaultServer]
Call = Callable[[Any], object]


@contextlib.contextmanager
def points_here(category: Type[Warning], match: str, line: int) -> Iterator[None]:
    """The block emits exactly one ``category`` warning containing ``match``, and it
    names this file and ``line``; any other warning fails the test too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    found: List[warnings.WarningMessage] = list(caught)
    assert [str(w.message) for w in found if match not in str(w.message)] == []
    assert len(found) == 1, [str(w.message) for w in found]
    (warning,) = found
    assert issubclass(warning.category, category)
    assert (warning.filename, warning.lineno) == (__file__, line)


def line_of(call: Call) -> int:
    return call.__code__.co_firstlineno


def here() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


# --------------------------------------------------------------------------- AUTH

AUTH_CALLS: Dict[str, Call] = {
    "send_smtp_auth": lambda s: send_smtp_auth(s, FROM, TO, USER, PASSWORD, "x", timeout=T),
    "send_letter": lambda s: send_letter(s, FROM, TO, "x", login=USER, password=PASSWORD),
    "smtp_session": lambda s: smtp_session(s, login=USER, password=PASSWORD).__enter__(),
}


@pytest.mark.parametrize("entry", sorted(AUTH_CALLS))
@pytest.mark.parametrize(
    ("offered", "match"), [(None, NO_AUTH), ("GSSAPI", NO_SHARED)], ids=["no-auth", "gssapi"]
)
def test_auth_warnings_name_the_callers_line(
    fault_server_factory: Factory, entry: str, offered: Any, match: str
) -> None:
    server = fault_server_factory(auth=offered)
    call = AUTH_CALLS[entry]
    with points_here(UserWarning, match, line_of(call)):
        session = call((server.host, server.port))
    if entry == "smtp_session":
        session.__exit__(None, None, None)  # type: ignore[attr-defined]
    assert "AUTH" not in server.wait_for(1)[0].verbs  # went on without it


def test_oauth2_token_without_xoauth2_names_the_callers_line(
    fault_server_factory: Factory,
) -> None:
    server = fault_server_factory(auth="PLAIN LOGIN")
    token = OAuth2Token("token")
    with points_here(UserWarning, "XOAUTH2", here() + 1):
        send_smtp_auth((server.host, server.port), FROM, TO, USER, token, "x", timeout=T)


@pytest.mark.parametrize(("offered", "match"), [(None, NO_AUTH), ("GSSAPI", NO_SHARED)])
def test_session_warns_at_the_with_line_and_again_at_a_reconnect(
    fault_server_factory: Factory, offered: Any, match: str
) -> None:
    """A session authenticates on every connection it opens: on entering the ``with``
    block, and again in the ``send_smtp`` or ``send_letter`` that replaces a connection
    the server dropped."""
    idle_drop = drop("250 2.0.0 accepted", "421 4.4.2 idle too long")
    server = fault_server_factory({"END 1": idle_drop, "END 2": idle_drop}, auth=offered)
    spec = (server.host, server.port)
    with points_here(UserWarning, match, here() + 1):
        session = smtp_session(spec, login=USER, password=PASSWORD, timeout=T).__enter__()
    try:
        session.send_smtp(FROM, TO, "one")
        server.wait_for(1)
        with points_here(UserWarning, match, here() + 1):
            session.send_smtp(FROM, TO, "two")
        server.wait_for(2)
        with points_here(UserWarning, match, here() + 1):
            session.send_letter(FROM, TO, "three")
    finally:
        session.__exit__(None, None, None)
    assert [len(r.messages) for r in server.wait_for(3)] == [1, 1, 1]


def test_session_warns_at_the_with_statement(fault_server_factory: Factory) -> None:
    server = fault_server_factory()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = here() + 1
        with smtp_session((server.host, server.port), login=USER, password=PASSWORD) as s:
            s.send_smtp(FROM, TO, "x")
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


# --------------------------------------------------------------------------- TLS

TLS_CALLS: Dict[str, Call] = {
    "make_ssl_context": lambda s: make_ssl_context(parse_mail_server(s).tls),
    "send_smtp": lambda s: send_smtp(s, FROM, TO, "x", timeout=T),
    "send_smtp_auth": lambda s: send_smtp_auth(s, FROM, TO, USER, PASSWORD, "x", timeout=T),
    "send_letter": lambda s: send_letter(s, FROM, TO, "x", timeout=T),
    "smtp_session": lambda s: smtp_session(s, timeout=T),
    "test_email_address": lambda s: vrfy(TO, server=s, timeout=T),
}


@pytest.mark.parametrize("entry", sorted(TLS_CALLS))
@pytest.mark.parametrize(
    "keyword", [(":ciphersuites", "TLS_AES_128_GCM_SHA256"), (":max-depth", 3)]
)
def test_unapplied_tls_keywords_name_the_callers_line(
    fault_server_factory: Factory, entry: str, keyword: Any
) -> None:
    """The warning comes when the TLS context is made, before any connection; the server
    then refuses at once, so what follows the warning does not matter here."""
    server = fault_server_factory({"greeting": drop("554 5.3.2 not today")})
    spec = (server.host, ":port", server.port, ":starttls", True, *keyword)
    call = TLS_CALLS[entry]
    with (
        points_here(RuntimeWarning, UNAPPLIED, line_of(call)),
        contextlib.suppress(PostOfficeError),
    ):
        call(spec)


def test_parsing_alone_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_mail_server(("mail.test", ":starttls", True, ":ciphersuites", "X", ":max-depth", 2))


# --------------------------------------------------------------------------- :program


def test_bcc_to_a_program_names_the_callers_line() -> None:
    program = (":program", [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"])
    with points_here(UserWarning, BCC, here() + 1):
        assert send_letter(program, FROM, TO, "x", bcc="hidden@example.test", timeout=T)
