"""The SMTP grammar without I/O (the lesson of h11: protocol logic that turns bytes into
events and events into bytes, tested by feeding it bytes).

Nothing here imports :mod:`socket`, :mod:`ssl` sockets, :mod:`subprocess` or threads:

- :mod:`.replies`: bytes from the server -> complete :class:`~.replies.Reply` objects
  (RFC 5321 section 4.2), within bounds on line length and lines per reply;
- :mod:`.extensions`: an EHLO reply -> :class:`~.extensions.Extensions`;
- :mod:`.auth`: choosing an AUTH mechanism and the lines each one sends (RFC 4954);
- :mod:`.transaction`: one message's commands, the codes each expects, the error a
  refusal raises, PIPELINING groups (RFC 2920) and the :class:`~.transaction.Stage`.

The I/O driver, :class:`post_office.client.session.Session`, writes what these modules say and
feeds them what it reads.
"""
