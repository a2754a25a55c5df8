"""The rules of one SMTP session, without I/O (in the style of h11; README "Architecture").

A :class:`Conversation` is told what the server said (:meth:`~Conversation.greeted`,
:meth:`~Conversation.answer`) and that TLS is up (:meth:`~Conversation.tls_established`),
and answers with the next :data:`Action`: send a command, start TLS with this server
name, or go on.  It owns every rule of opening a session and of authenticating:

- the greeting must be 2xx (RFC 5321 4.3.1);
- EHLO, and HELO when EHLO is refused, except after a 421 (the server is closing);
- STARTTLS (RFC 3207) as the spec says: ``:starttls :required`` fails where it is not
  offered, ``:starttls t`` goes on in plain text; after TLS, EHLO again (its extensions
  replace those before TLS);
- credentials (RFC 4954) only over TLS, or to this machine, or where the spec says
  ``:allow-plaintext-auth t``; with a login, ``:starttls t`` means required (a server that
  hides STARTTLS may be a man in the middle); never to a mail exchanger from an MX answer;
  the best mechanism both sides speak, or none (then the message goes without AUTH and a
  warning says why, as Allegro sends without it).

What it learns is one frozen value, :attr:`Conversation.facts`; the values are
NamedTuples, cheap to make at every connection.  Refusals are
:class:`~post_office.protocol.failures.Failure` values, raised; the client turns them into
the errors of :mod:`post_office.errors` (which this package cannot import: README
"Architecture").  The mail transaction itself is :mod:`post_office.protocol.transaction`.
"""

from __future__ import annotations

from .extensions import NO_EXTENSIONS, Extensions, parse_ehlo
from .failures import Failure
from .hosts import is_loopback_host
from .replies import Reply

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Dict, Literal, Optional, Union

if TYPE_CHECKING:  # typing's class for type checkers; ours at run time (no ForwardRefs)
    from typing import NamedTuple

    from .auth import AuthExchange
else:
    from .._record import NamedTuple

__all__ = [
    "Action",
    "Conversation",
    "Facts",
    "Proceed",
    "Send",
    "SessionRules",
    "StartTLS",
    "TlsFacts",
]


class TlsFacts(NamedTuple):
    """What the TLS handshake established."""

    version: Optional[str]
    cipher: Optional[str]
    #: the server's certificate (DER), also when it was not verified
    der: Optional[bytes] = None
    #: the certificate as ``ssl.SSLSocket.getpeercert`` decodes it (only when verified)
    decoded: Optional[Dict[str, Any]] = None


class Facts(NamedTuple):
    """What one session learnt of its server."""

    greeting: Optional[Reply] = None
    extensions_before_tls: Optional[Extensions] = None
    extensions: Extensions = NO_EXTENSIONS
    used_helo: bool = False
    auth_mechanism: Optional[str] = None
    tls: Optional[TlsFacts] = None


class SessionRules(NamedTuple):
    """What the rules need to know of the mail-server spec and of where we are."""

    host: str  # the name as the user wrote it, for messages
    port: int
    reached: str  # the host reached, as messages name it (README "DNS")
    server_name: str  # what the certificate is checked against
    local_hostname: str  # for EHLO/HELO
    ssl: bool = False  # implicit TLS: TLS from the start
    starttls: Union[bool, Literal["required"]] = False
    allow_plaintext_auth: bool = False
    #: the mail exchanger's name when the address came from an MX answer, else None
    exchanger: Optional[str] = None


class Send(NamedTuple):
    """Send one command and give its reply to :meth:`Conversation.answer`; ``shown`` is
    the line as transcripts and errors may show it (credentials redacted)."""

    line: str
    shown: str


class StartTLS(NamedTuple):
    """Start TLS on the connection, checking the certificate against ``server_name``;
    then call :meth:`Conversation.tls_established`."""

    server_name: str


class Proceed(NamedTuple):
    """This step is done: the session is open, or authenticated.  ``note`` is for the
    transcript; ``warning`` for the user (nothing was sent for AUTH)."""

    note: Optional[str] = None
    warning: Optional[str] = None


if TYPE_CHECKING:
    Action = Union[Send, StartTLS, Proceed]
    _Phase = Literal["greeting", "ehlo", "helo", "starttls", "tls", "open", "auth", "done"]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name == "Action":
            from typing import Union

            globals()[name] = Union[Send, StartTLS, Proceed]
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Conversation:
    """The state of one SMTP session and the rules that move it (see the module)."""

    def __init__(self, rules: SessionRules, *, tls: Optional[TlsFacts] = None) -> None:
        self.rules = rules
        self.facts = Facts(tls=tls)  # implicit TLS is up before the greeting
        self._phase: _Phase = "greeting"
        self._after_tls = False
        self._exchange: Optional[AuthExchange] = None

    @property
    def encrypted(self) -> bool:
        return self.facts.tls is not None

    def _learn(self, **changes: Any) -> None:
        self.facts = self.facts._replace(**changes)

    # ------------------------------------------------------------------ opening
    def greeted(self, reply: Reply) -> Action:
        """The server's greeting: 2xx, or a ``"connect"`` failure."""
        self._expect_phase("greeting")
        self._learn(greeting=reply)
        if not 200 <= reply.code < 300:
            raise Failure(
                "connect",
                f"initial connect failed: {self.rules.reached} port {self.rules.port} did not "
                "greet us with 2xx",
                code=reply.code,
                reply=reply.text,
                command="(connect)",
            )
        return self._ehlo()

    def _ehlo(self) -> Send:
        self._phase = "ehlo"
        line = f"EHLO {self.rules.local_hostname}"
        return Send(line, line)

    def answer(self, reply: Reply) -> Action:
        """The reply to the last :class:`Send`."""
        if self._phase == "ehlo":
            return self._answer_ehlo(reply)
        if self._phase == "helo":
            if not 200 <= reply.code < 300:
                when = " after STARTTLS" if self._after_tls else ""
                raise self._refusal("helo", f"SMTP transaction failed: HELO{when} was refused",
                                    reply, f"HELO {self.rules.local_hostname}")  # fmt: skip
            return self._after_hello()
        if self._phase == "starttls":
            if reply.code != 220:
                raise self._refusal("starttls", "STARTTLS was refused", reply, "STARTTLS")
            self._phase = "tls"
            return StartTLS(self.rules.server_name)
        if self._phase == "auth":
            return self._answer_auth(reply)
        raise RuntimeError(f"no command is waiting for a reply ({self._phase})")

    def _answer_ehlo(self, reply: Reply) -> Action:
        if reply.code == 421:  # the server is closing: no HELO fall-back, report the 421
            raise self._refusal(
                "helo",
                "SMTP transaction failed: EHLO was refused and the server is closing the "
                "connection",
                reply,
                f"EHLO {self.rules.local_hostname}",
            )
        if reply.code == 250:
            self._learn(extensions=parse_ehlo(reply), used_helo=False)
            return self._after_hello()
        self._learn(extensions=NO_EXTENSIONS, used_helo=True)
        self._phase = "helo"
        line = f"HELO {self.rules.local_hostname}"
        return Send(line, line)

    def _after_hello(self) -> Action:
        rules = self.rules
        if not rules.starttls or rules.ssl or self._after_tls:
            return self._opened()
        if not self.facts.extensions.starttls:
            if rules.starttls == "required":
                raise Failure(
                    "starttls",
                    f"the server {rules.reached} does not offer STARTTLS, and the "
                    "mail-server spec says :starttls :required",
                    command=f"EHLO {rules.local_hostname}",
                )
            return self._opened("the server does not offer STARTTLS; going on in plain text")
        self._phase = "starttls"
        return Send("STARTTLS", "STARTTLS")

    def _opened(self, note: Optional[str] = None) -> Proceed:
        self._phase = "open"
        return Proceed(note=note)

    def tls_established(self, tls: TlsFacts) -> Action:
        """TLS is up after STARTTLS: say EHLO again (RFC 3207 4.2)."""
        self._expect_phase("tls")
        self._after_tls = True
        self._learn(tls=tls, extensions_before_tls=self.facts.extensions)
        return self._ehlo()

    # ------------------------------------------------------------------ AUTH
    def authenticate(self, login: str, secret: str, *, token: bool) -> Action:
        """Start AUTH with ``login`` and ``secret`` (a password, or an OAuth2 token when
        ``token``): the first command, or :class:`Proceed` with a warning when the server
        offers nothing we speak (nothing is sent)."""
        self._expect_phase("open")
        rules = self.rules
        if rules.exchanger is not None:
            # A name from an MX answer is DNS's word, not the user's (RFC 7817 section 3):
            # a certificate that verifies for it proves nothing about where the password goes.
            raise Failure(
                "option",
                f"refusing to send credentials to {rules.exchanger}, a mail exchanger DNS "
                f"gave for {rules.host}: credentials go only to the name as written (open "
                "the session with credentials=True)",
            )
        if not self.encrypted:
            if rules.starttls:
                raise Failure(
                    "starttls",
                    f"the server {rules.host} did not offer STARTTLS, so the password was not "
                    "sent: with a login, :starttls t means :starttls :required (a server that "
                    "hides STARTTLS may be a man in the middle)",
                    command=f"EHLO {rules.local_hostname}",
                )
            if not rules.allow_plaintext_auth and not is_loopback_host(rules.host):
                raise Failure("option", plaintext_refusal(rules.host))
        offered = self.facts.extensions.auth
        if not offered:
            hint = (
                " (it offers STARTTLS: many servers offer AUTH only after it, so add :starttls t)"
                if self.facts.extensions.starttls and not self.encrypted
                else ""
            )
            return Proceed(
                warning=f"the server {rules.host} does not offer AUTH{hint}: sending without "
                "authenticating, as Allegro does"
            )
        from .auth import AuthExchange, choose_mechanism  # only with credentials

        mechanism = choose_mechanism(offered, token=token)
        if mechanism is None:
            ours = "XOAUTH2" if token else "CRAM-MD5, PLAIN or LOGIN"
            return Proceed(
                warning=f"the server {rules.host} offers AUTH {' '.join(offered)}, none of "
                f"which post_office speaks ({ours}): sending without authenticating, as "
                "Allegro does"
            )
        self._exchange = AuthExchange(mechanism, login, secret)
        self._phase = "auth"
        return Send(*self._exchange.first())

    def _answer_auth(self, reply: Reply) -> Action:
        assert self._exchange is not None
        step = self._exchange.answer(reply)
        if step is not None:
            return Send(*step)
        self._learn(auth_mechanism=self._exchange.mechanism)
        self._exchange = None
        self._phase = "done"
        return Proceed()

    # ------------------------------------------------------------------ helpers
    def _expect_phase(self, phase: _Phase) -> None:
        if self._phase != phase and not (phase == "open" and self._phase == "done"):
            raise RuntimeError(f"the conversation is at {self._phase!r}, not {phase!r}")

    @staticmethod
    def _refusal(kind: Any, what: str, reply: Reply, command: str) -> Failure:
        return Failure(kind, what, code=reply.code, reply=reply.text, command=command)


def plaintext_refusal(host: str) -> str:
    """Why credentials are not sent in clear to ``host`` (README "Reliability")."""
    return (
        f"credentials go only over TLS, and the mail-server spec for {host} uses "
        "neither :ssl t nor :starttls: add :starttls t (or :ssl t for port 465), or "
        ":allow-plaintext-auth t to send the password in clear as Allegro does"
    )
