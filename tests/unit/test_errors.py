"""The exception hierarchy: every class pickles to an equal exception, and the MRO facts.

The classes are enumerated from ``post_office.errors`` itself, so a class added later is
tested without anyone remembering to list it here.
"""

from __future__ import annotations

import concurrent.futures
import copy
import enum
import inspect
import multiprocessing
import pickle
import smtplib
import subprocess
from typing import Any, Dict, List, Type

import pytest

import post_office
from post_office import errors


class Stage(enum.Enum):
    """Stands in for ``post_office.protocol.transaction.Stage``: any picklable value."""

    RCPT_SENT = "rcpt sent"


CLASSES: List[Type[BaseException]] = sorted(
    (
        value
        # __all__ rather than vars(): ProgramError is loaded on first use (module __getattr__)
        for value in (getattr(errors, name) for name in errors.__all__)
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)


def example(cls: Type[BaseException]) -> BaseException:
    """An instance of ``cls`` with every field set to something other than its default."""
    smtp = {"code": 550, "reply": "5.1.1 no such user", "command": "RCPT TO:<x@y>"}
    if issubclass(cls, errors.ProgramError):
        return cls(75, ["/usr/sbin/sendmail", "-t"], b"out\n", b"err\n", timeout=2.5)
    if issubclass(cls, errors.LispSyntaxError):
        return cls("unbalanced parenthesis", 7)
    if issubclass(cls, errors.SenderRefusedError):
        return cls("MAIL FROM refused", sender="me@example.test", stage=Stage.RCPT_SENT, **smtp)
    if issubclass(cls, errors.RecipientRefusedError):
        return cls("RCPT TO refused", recipient="ünï@example.test", stage=Stage.RCPT_SENT, **smtp)
    if issubclass(cls, errors.SMTPError):
        return cls("the server said no", stage=Stage.RCPT_SENT, **smtp)
    return cls("a message")


def fields(exc: BaseException) -> Dict[str, Any]:
    """Everything that makes up ``exc``: class, message, args, attributes."""
    found: Dict[str, Any] = {"class": type(exc), "str": str(exc), "args": exc.args}
    found.update(vars(exc))
    for name in ("errno", "strerror", "filename", "returncode", "cmd", "output", "stderr"):
        found[name] = getattr(exc, name, None)
    return found


def test_the_enumeration_finds_the_classes() -> None:
    assert errors.PostOfficeError in CLASSES
    assert errors.ConnectTimeoutError in CLASSES
    assert errors.SessionStateError in CLASSES
    assert len(CLASSES) > 25
    assert sorted(errors.__all__) == sorted(cls.__name__ for cls in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_derives_from_the_root_and_says_when_it_is_raised(
    cls: Type[BaseException],
) -> None:
    assert issubclass(cls, errors.PostOfficeError)
    doc = inspect.getdoc(cls) or ""
    first_line = doc.splitlines()[0] if doc else ""
    assert first_line.strip(), f"{cls.__name__} has no docstring"
    # A docstring of its own, not one inherited from a base class.
    assert "__doc__" in vars(cls) and vars(cls)["__doc__"], cls.__name__


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_class_pickles_to_an_equal_exception(cls: Type[BaseException], protocol: int) -> None:
    original = example(cls)
    restored = pickle.loads(pickle.dumps(original, protocol=protocol))
    assert restored is not original
    assert fields(restored) == fields(original)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_copies_to_an_equal_exception(cls: Type[BaseException]) -> None:
    original = example(cls)
    assert fields(copy.copy(original)) == fields(original)
    assert fields(copy.deepcopy(original)) == fields(original)


def test_the_named_fields_survive_pickling() -> None:
    """The fields callers read, spelled out (``fields`` compares them generically)."""
    refused = example(errors.RecipientRefusedError)
    assert isinstance(refused, errors.RecipientRefusedError)
    again = pickle.loads(pickle.dumps(refused))
    assert isinstance(again, errors.RecipientRefusedError)
    assert (again.code, again.reply, again.command, again.stage) == (
        550,
        "5.1.1 no such user",
        "RCPT TO:<x@y>",
        Stage.RCPT_SENT,
    )
    assert again.recipient == "ünï@example.test"
    assert again.recipients == {"ünï@example.test": (550, b"5.1.1 no such user")}
    assert (again.smtp_code, again.smtp_error) == (550, b"5.1.1 no such user")
    assert str(again) == str(refused) and "We said: 'RCPT TO:<x@y>'" in str(again)

    sender = pickle.loads(pickle.dumps(example(errors.SenderRefusedError)))
    assert isinstance(sender, errors.SenderRefusedError)
    assert sender.sender == "me@example.test"

    program = pickle.loads(pickle.dumps(example(errors.ProgramError)))
    assert isinstance(program, errors.ProgramError)
    assert isinstance(program, subprocess.CalledProcessError)
    assert (program.returncode, program.cmd, program.stdout, program.stderr) == (
        75,
        ["/usr/sbin/sendmail", "-t"],
        b"out\n",
        b"err\n",
    )
    assert program.timeout == 2.5
    assert "killed" in str(program)

    lisp = pickle.loads(pickle.dumps(example(errors.LispSyntaxError)))
    assert isinstance(lisp, errors.LispSyntaxError)
    assert lisp.position == 7


def test_an_smtp_error_without_a_reply_pickles_too() -> None:
    original = errors.ConnectTimeoutError("timed out connecting to 127.0.0.1:25")
    restored = pickle.loads(pickle.dumps(original))
    assert fields(restored) == fields(original)
    assert restored.code is None and restored.stage is None and restored.smtp_code == -1


def test_stage_is_stored_not_shown() -> None:
    plain = errors.DataError("refused", code=554, reply="no")
    assert plain.stage is None
    staged = errors.DataError("refused", code=554, reply="no", stage=Stage.RCPT_SENT)
    assert staged.stage is Stage.RCPT_SENT
    assert str(staged) == str(plain)


def _reraise(exc: BaseException) -> None:
    raise exc


def test_errors_cross_a_process_pool() -> None:
    """What worker pools do: pickle the error in the worker, unpickle it in the parent."""
    context = multiprocessing.get_context("spawn")
    examples = [example(cls) for cls in CLASSES]
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        futures = [pool.submit(_reraise, exc) for exc in examples]
        for original, future in zip(examples, futures):
            received = future.exception(timeout=60)
            assert received is not None
            assert fields(received) == fields(original)


# --------------------------------------------------------------------------- MRO facts


def test_a_connect_timeout_is_both_a_connect_error_and_a_timeout() -> None:
    cls = errors.ConnectTimeoutError
    assert issubclass(cls, errors.ConnectError)
    assert issubclass(cls, errors.SMTPTimeoutError)
    assert issubclass(cls, TimeoutError)
    assert issubclass(cls, smtplib.SMTPConnectError)
    assert issubclass(cls, smtplib.SMTPServerDisconnected)
    with pytest.raises(errors.ConnectError):
        raise cls("timed out")
    with pytest.raises(TimeoutError):
        raise cls("timed out")


def test_misusing_a_session_is_a_runtime_error() -> None:
    cls = errors.SessionStateError
    assert issubclass(cls, errors.PostOfficeError)
    assert issubclass(cls, RuntimeError)
    assert not issubclass(cls, errors.ArgumentError)
    assert not issubclass(cls, errors.SMTPError)


def test_smtp_errors_are_the_smtplib_exceptions() -> None:
    pairs = {
        errors.ConnectError: smtplib.SMTPConnectError,
        errors.HeloError: smtplib.SMTPHeloError,
        errors.AuthenticationError: smtplib.SMTPAuthenticationError,
        errors.SenderRefusedError: smtplib.SMTPSenderRefused,
        errors.RecipientRefusedError: smtplib.SMTPRecipientsRefused,
        errors.DataError: smtplib.SMTPDataError,
        errors.ServerDisconnectedError: smtplib.SMTPServerDisconnected,
        errors.NotSupportedError: smtplib.SMTPNotSupportedError,
    }
    for ours, theirs in pairs.items():
        assert issubclass(ours, theirs), ours


def test_the_package_exports_the_root() -> None:
    assert post_office.PostOfficeError is errors.PostOfficeError
