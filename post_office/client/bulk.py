"""A session for bulk sending: many messages over open connections (README "Bulk sending").

Allegro's ``send-smtp`` opens a connection per message.  :func:`smtp_session` keeps one
open (up to ``connections`` for :meth:`SmtpSession.send_many`), with TLS and AUTH done
once per connection, and sends every message through
:class:`~post_office.client.fleet.Fleet`: ``send_smtp`` and ``send_letter`` are a batch
of one.  A refused message raises (or, in ``send_many``, is reported) for that message
only; after a refusal before the data the transaction is reset (RSET) and the next
message goes out on the same connection.  A connection the server dropped while it sat
idle shows at the next ``MAIL FROM``, and that message goes once more on a new one; a
message whose body was (even partly) sent is never sent again, since the server may have
delivered it even if its final reply was lost.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import IO, Any, List, Optional, Sequence, Tuple, Type, Union

from .._checks import check_timeout
from ..errors import (
    MessageArgumentError,
    SessionStateError,
    SMTPError,
)
from ..message.addresses import Recipients
from ..message.dkim import DkimKey, signed
from ..message.letter import Attachment, LetterOptions, build_letter
from ..message.sources import check_messages
from ..mime.build import MimePart
from ..protocol.replies import Reply
from ..spec.options import (
    Credentials,
)
from .delivery import Envelope, check_envelope, open_session
from .fleet import Fleet, Pool
from .session import Session

__all__ = ["SmtpSession"]


class SmtpSession:
    """SMTP connections for many messages; made by :func:`smtp_session`.

    Use it in a ``with`` block: entering connects (TLS and AUTH included), leaving says
    QUIT and closes the sockets, also when the block raises.  :attr:`connections` counts
    the connections opened so far (more than one after a reconnect, or when
    :meth:`send_many` used several).

    One connection carries one conversation at a time: a call made while another call's
    message is under way (from another thread, or from a body source of that message)
    raises :class:`~post_office.SessionStateError` at once and sends nothing, rather than
    writing its commands into the other message's body (README "Bulk sending").  Give
    each thread its own session, or hold a lock around the calls.
    """

    def __init__(
        self,
        session: Session,
        credentials: Optional[Credentials],
        dkim: Optional[DkimKey] = None,
        connections: int = 1,
    ) -> None:
        self._session = session
        self._sessions = [session]  # slot 0 is this one; send_many may open more
        self._limit = connections
        self._pool = Pool()  # the lanes of the open connections, from batch to batch
        self._credentials = credentials
        self._dkim = dkim  # every message is signed with it (README "DKIM signing")
        self._state = "new"  # "new", "open" (inside the with block), "closed"
        self._busy = False  # a call is sending on the connection
        self._guard = threading.Lock()  # makes reading and setting the two above one step
        self.connections = 0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> SmtpSession:
        with self._guard:
            if self._state != "new":
                raise SessionStateError("an smtp_session can be entered only once; make a new one")
            self._state = "open"
            self._busy = True  # connecting: no send may start on the half-made connection
        try:
            self._open_slot(0)
        except BaseException:
            with self._guard:
                self._state, self._busy = "closed", False
            self._session.close()
            raise
        self._end()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT (a failure is only logged: the messages were accepted) and close.

        Called while another thread's message is under way, it leaves the QUIT to that
        call, which says it once its message is done: a QUIT now would land in its body.
        """
        with self._guard:
            self._state = "closed"
            if self._busy:
                return
        self._quit()

    def _begin(self) -> None:
        """Take the connection for one call, or refuse at once if another call has it."""
        with self._guard:
            if self._busy:
                raise SessionStateError(
                    "this smtp_session is sending another message (in another thread, or "
                    "this call comes from a body source of that message): one connection "
                    "carries one message at a time; give each thread its own session, or "
                    "hold a lock around the calls"
                )
            if self._state != "open":
                raise SessionStateError("this smtp_session is not open: send inside its with block")
            self._busy = True

    def _end(self) -> None:
        """Give the connection back; say the QUIT a close() left to this call."""
        with self._guard:
            self._busy = False
            closed = self._state == "closed"
        if closed:
            self._quit()

    def _open_slot(self, slot: int) -> Session:
        """The connection of one slot (0: the session's own), opened if it is closed.

        No look whether an open one is still alive: that would cost a system call per
        message, and a connection the server dropped while idle shows at the next MAIL
        FROM, which the fleet then sends once more on a new one (README "Bulk sending")."""
        first = self._session
        while len(self._sessions) <= slot:
            self._sessions.append(Session.for_server(first.server, first.options, first.transcript))
        session = self._sessions[slot]
        if not session.connected:
            self.connections += 1
            open_session(session.server, session.options, self._credentials, session=session)
        return session

    def _quit(self) -> None:
        for session in self._sessions:
            connection = session.connection
            if connection is not None and connection.sock is not None:
                # The lanes left the socket non-blocking; QUIT waits as any reply does.
                connection.sock.settimeout(connection.timeout)
            session.quit()

    # ------------------------------------------------------------------ sending
    def send_smtp(self, from_: str, to: Recipients, *messages: object) -> None:
        """Send one message on the session's connection (Allegro's ``send-smtp``).

        :param from_: Allegro's ``from``: a bare address, ``""`` for the null reverse path.
        :param to: Allegro's ``to``: one bare address or a list of them.
        :param messages: Allegro's ``&rest message``: str, bytes, streams,
            ``email.message.Message`` objects and MIME parts, sent in order as one message,
            with no header added (README "Porting notes").

        Arguments are checked before anything is sent.  Returns ``None`` once the server
        accepted the message.  A refusal raises (the first refused recipient, as in
        Allegro) and leaves the session usable for the next message.
        """
        envelope = check_envelope(from_, to)
        check_messages(messages)
        self._transaction(envelope.sender, envelope.recipients, messages)

    def send_many(
        self, messages: Sequence[Tuple[Any, ...]], *, total_timeout: Optional[float] = None
    ) -> List[Union[Reply, SMTPError]]:
        """Send many messages, each ``(from_, to, *messages)`` as :meth:`send_smtp` takes
        them, with one round trip per message where the server offers PIPELINING (the end
        of one message's data goes with the next one's MAIL, RCPT and DATA, RFC 2920 3.1).

        Every item is checked before anything is sent.  The messages go over up to
        ``connections`` connections (:func:`~post_office.smtp_session`), all driven from
        the calling thread.  Returns one result per item, in order: the server's final
        ``Reply`` when it accepted the message, else the error (with its ``stage``); a
        refusal never marks a message sent and never loses the next one, and a message
        lost with its connection goes once more only when its stage says the server
        cannot have it.  ``total_timeout`` (seconds) bounds the whole batch: what is not
        answered by then is reported with an ``SMTPTimeoutError``.  Python only (README
        "Bulk sending").
        """
        if total_timeout is not None:
            total_timeout = check_timeout(total_timeout, argument="total_timeout")
        items = []
        last: Tuple[object, object, Optional[Envelope]] = (None, None, None)
        for position, item in enumerate(messages):
            if not isinstance(item, tuple) or len(item) < 2:
                raise MessageArgumentError(
                    f"send_many: item {position} is not a tuple (from_, to, *messages)"
                )
            if item[0] is last[0] and item[1] is last[1] and last[2] is not None:
                envelope = last[2]  # the very objects just checked (a batch from one sender)
            else:
                envelope = check_envelope(item[0], item[1])
                last = (item[0], item[1], envelope)
            check_messages(item[2:])
            body = signed(tuple(item[2:]), self._dkim)  # as send_smtp takes them
            items.append((envelope.sender, envelope.recipients, body))
        self._begin()
        try:
            return Fleet(self._open_slot, self._limit, items, total_timeout, self._pool).run()
        finally:
            self._end()

    def send_letter(
        self,
        from_: str,
        to: Union[str, Sequence[str]],
        message: Union[str, IO[Any], MimePart],
        *,
        cc: Union[str, Sequence[str], None] = None,
        bcc: Union[str, Sequence[str], None] = None,
        subject: Optional[str] = None,
        reply_to: Optional[str] = None,
        headers: Union[str, Sequence[str], None] = None,
        attachments: Union[Attachment, Sequence[Attachment], None] = None,
    ) -> bool:
        """Build a letter and send it on the session's connection (Allegro's ``send-letter``).

        The parameters are :func:`~post_office.send_letter`'s, without the server and the
        credentials, which belong to the session: ``from_`` (Allegro's ``from``), ``to``,
        ``message``, ``cc``, ``bcc``, ``subject``, ``reply_to``, ``headers`` and
        ``attachments`` (Allegro's keywords of the same names).  The letter is built by
        the same code as ``send_letter`` (README "Letters and attachments") and everything
        is checked before anything is sent.  Returns True (Allegro returns ``t``).
        """
        options = LetterOptions(
            cc=cc,
            bcc=bcc,
            subject=subject,
            reply_to=reply_to,
            headers=headers,
            attachments=attachments,
        )
        letter = build_letter(from_, to, message, options)
        self._transaction(letter.sender, list(letter.recipients), (letter.header, letter.part))
        return True

    def _transaction(
        self, sender: str, recipients: Sequence[str], messages: Tuple[object, ...]
    ) -> None:
        """One message as a batch of one on the first connection: the same rules and
        the same resend-once of a message the server certainly did not take."""
        item = (sender, recipients, signed(messages, self._dkim))
        self._begin()
        try:
            [outcome] = Fleet(self._open_slot, 1, [item], None, self._pool).run()
        finally:
            self._end()
        if isinstance(outcome, SMTPError):
            raise outcome
