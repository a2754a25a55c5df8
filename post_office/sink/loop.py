"""The embedded sink's event loop thread and its logging (part of the ``sink`` extra).

:class:`LoopThread` serves the sink's asyncio loop in a daemon thread of its own;
:func:`route_logging` shows aiosmtpd's log records one line each, escaped.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TextIO

from .._checks import printable

if TYPE_CHECKING:
    import asyncio
    import ssl
    from concurrent.futures import Future

__all__ = ["LoopThread", "route_logging"]

#: Seconds to wait for the sink's thread to start or stop.
THREAD_TIMEOUT = 30.0


class LoopThread:
    """The sink's asyncio event loop, serving in a daemon thread of its own.

    ``make_protocol(loop)`` makes the aiosmtpd protocol of each new connection;
    ``log_line`` reports the loop's errors.  :meth:`stop` drops the open connections.
    """

    def __init__(
        self,
        make_protocol: Callable[[asyncio.AbstractEventLoop], Any],
        log_line: Callable[[str], None],
    ) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.thread: Optional[threading.Thread] = None
        self._make_protocol = make_protocol
        self._log_line = log_line

    def start(self, host: str, port: int, ssl_context: Optional[ssl.SSLContext] = None) -> int:
        """Listen on ``host``/``port`` in the thread (TLS at once with ``ssl_context``);
        returns the port once it is bound."""
        from concurrent.futures import Future

        started: Future[int] = Future()
        self.thread = threading.Thread(
            target=self._serve,
            args=(host, port, ssl_context, started),
            name="post_office-sink",
            daemon=True,
        )
        self.thread.start()
        try:
            return started.result(THREAD_TIMEOUT)
        except BaseException:
            self.thread.join(THREAD_TIMEOUT)
            raise

    def stop(self) -> None:
        """Stop the loop; the thread closes the server and drops every connection."""
        if self.thread is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(THREAD_TIMEOUT)

    def _protocol(self) -> Any:
        protocol = self._make_protocol(self.loop)
        self.connections.add(protocol)
        return protocol

    def _serve(
        self,
        host: str,
        port: int,
        ssl_context: Optional[ssl.SSLContext],
        started: Future[int],
    ) -> None:
        import asyncio

        loop = self.loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._loop_error)
        try:
            server = loop.run_until_complete(
                loop.create_server(self._protocol, host, port, ssl=ssl_context)
            )
        except BaseException as exc:
            loop.close()
            started.set_exception(exc)
            return
        started.set_result(server.sockets[0].getsockname()[1])
        try:
            loop.run_forever()
        finally:
            server.close()
            for connection in list(self.connections):
                # After STARTTLS this is the TLS transport, whose abort() drops the socket.
                transport = connection.transport
                if transport is not None and not transport.is_closing():
                    transport.abort()
            loop.run_until_complete(asyncio.sleep(0))
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        error = context.get("exception")
        self._log_line(str(error or context.get("message", "event loop error")))


class _OneLine(logging.Handler):
    """aiosmtpd's warnings and errors as one line each, without tracebacks."""

    def __init__(self, stream: Optional[TextIO], level: int) -> None:
        super().__init__(level)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if self.stream is None or "login_data is deprecated" in text:
            return  # aiosmtpd 1.4 says so itself on every successful AUTH
        if " unrecognised: " in text and record.levelno < logging.ERROR:
            return  # the sink's own "refused" line says it, once
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            cause = error.__cause__ or error
            text += f": {type(cause).__name__}: {cause}"
        try:
            self.stream.write(f"sink: {printable(text)}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def route_logging(stream: Optional[TextIO], level: int) -> Callable[[], None]:
    """Send aiosmtpd's logger (``mail.log``) to ``stream``, one line per record, while the
    sink runs; returns the function that undoes it.

    With a handler of its own the logger no longer falls back to :mod:`logging`'s
    "last resort" (tracebacks on stderr); handlers the application configured still get
    the records.
    """
    logger = logging.getLogger("mail.log")
    handler = _OneLine(stream, level)
    previous_level = logger.level
    logger.addHandler(handler)
    if level < logger.getEffectiveLevel():
        logger.setLevel(level)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    return restore
