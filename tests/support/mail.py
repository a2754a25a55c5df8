"""Reading what arrived, for tests: parse a message, its parts' payloads and file names,
and a raw SMTP dialogue on a plain socket (to say what no client of ours would)."""

from __future__ import annotations

import email
import email.message
import email.policy
import socket
from typing import Sequence


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def filename(message: email.message.EmailMessage) -> object:
    """The exact file name (``get_filename()`` strips outer whitespace)."""
    disposition = message["Content-Disposition"]
    return None if disposition is None else disposition.params.get("filename")


def payload(message: email.message.Message) -> bytes:
    data = message.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def crlf_free(data: bytes) -> bytes:
    """Text compared modulo newline convention (the wire makes every newline CRLF)."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def raw_dialogue(port: int, commands: Sequence[bytes], timeout: float = 30) -> None:
    """Say each command to the SMTP server on 127.0.0.1:``port`` and read its whole reply
    (continuation lines included), after reading the greeting."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for command in commands:
            sock.sendall(command + b"\r\n")
            while reader.readline()[3:4] == b"-":
                pass
        reader.close()
