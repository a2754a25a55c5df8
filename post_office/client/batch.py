"""``SmtpSession.send_many``: many messages over one connection, one round trip each
(RFC 2920 3.1; README "Bulk sending").

The transactions themselves are :func:`post_office.client.transfer.send_batch`'s; this
module keeps the batch going when the connection is lost: a message the server certainly
did not take (refused or dropped before ``MAIL FROM`` was accepted, :attr:`Stage.BEFORE_MAIL`,
by a server that hung up or said 421) is sent once more on a new connection; every other
outcome is reported as it is, and nothing is sent twice.
"""

from __future__ import annotations

from typing import Callable, List, Sequence, Set

from ..errors import ServerDisconnectedError, SMTPError, SMTPTimeoutError
from ..protocol.stage import Stage
from .session import Session
from .transfer import Item, Outcome, send_batch

__all__ = ["run_batch"]


def _certainly_not_sent(error: SMTPError) -> bool:
    if error.stage is not Stage.BEFORE_MAIL or isinstance(error, SMTPTimeoutError):
        return False  # a slow server is not a closed one
    return isinstance(error, ServerDisconnectedError) or error.code == 421


def run_batch(session: Session, ready: Callable[[], bool], items: Sequence[Item]) -> List[Outcome]:
    """One outcome per item, in order: the server's acceptance (a ``Reply``) or the
    error, with its stage.  ``ready()`` makes sure the session has a live connection
    (True when it had to open a new one)."""
    outcomes: List[Outcome] = []
    retried: Set[int] = set()
    index = 0
    while index < len(items):
        ready()
        rest = items[index:]
        if session.extensions.pipelining:
            done = send_batch(
                session.connected_connection(),
                session.transcript,
                session.extensions,
                session.server.host,
                rest,
            )
        else:  # no PIPELINING: one message at a time, as send_smtp does
            done = []
            for sender, recipients, messages in rest:
                try:
                    done.append(session.send_message(sender, recipients, messages))
                except SMTPError as exc:
                    done.append(exc)
                    if not session.connected:
                        break
        for outcome in done:
            if (
                isinstance(outcome, SMTPError)
                and index not in retried
                and _certainly_not_sent(outcome)
                and not session.connected
            ):
                retried.add(index)  # once more, on a new connection
                break
            outcomes.append(outcome)
            index += 1
        if not session.connected:
            session.close()
    return outcomes
