"""A real SMTP server on the loopback, for tests whose mail a worker process sends.

It speaks enough of RFC 5321 for :mod:`smtplib` (and so Django's SMTP backend): EHLO or
HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. Like a mail server or mailbox that removes
duplicates, it keeps one copy per ``Message-ID``: a message whose Message-ID it already
holds is accepted (250) and dropped. Every transmission is counted apart from what it
keeps, so a test sees both what was sent and what the recipient got.

``hold_after_accept`` makes it answer the DATA (the message is accepted: the sender
has been told 250) and then not answer the sender's next command until released, so a
test can act at that exact point: after the mail server accepted the message, before
the sender has done anything else.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any


@dataclass
class Transmission:
    """One message the server accepted: its envelope and its content."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")


@dataclass
class Mailbox:
    """What the server received (every transmission) and what it kept (one per Message-ID)."""

    transmissions: list[Transmission] = field(default_factory=list)
    kept: list[Transmission] = field(default_factory=list)
    accepted: threading.Event = field(default_factory=threading.Event)
    hold_after_accept: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, transmission: Transmission) -> None:
        with self.lock:
            self.transmissions.append(transmission)
            seen = {t.message_id for t in self.kept}
            if not transmission.message_id or transmission.message_id not in seen:
                self.kept.append(transmission)


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())
        self.wfile.flush()

    def handle(self) -> None:
        mailbox = self.server.mailbox
        self.reply("220 test-smtp ESMTP ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-test-smtp")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 test-smtp")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.partition(":")[2].strip(" <>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                content = self._data()
                if content is None:
                    return
                parsed = email.message_from_bytes(content, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                mailbox.receive(Transmission(sender, recipients, parsed))
                self.reply("250 OK: queued")
                mailbox.accepted.set()
                if mailbox.hold_after_accept:
                    # The sender now believes the message delivered; it hears nothing
                    # more until the test releases it (or it dies).
                    mailbox.released.wait(timeout=60)
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def _data(self) -> bytes | None:
        lines = []
        while line := self.rfile.readline():
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)
        return None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.mailbox = mailbox


@dataclass
class SMTPServer:
    """The server, serving in a thread of the test process on a port the system chose."""

    mailbox: Mailbox
    _server: _Server
    _thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def settings(self) -> dict[str, str]:
        """Environment of a worker that sends its mail here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }

    def stop(self) -> None:
        self.mailbox.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def smtp_server(**options: Any) -> Any:
    """Run an SMTP server for the duration of the block (``options``: of :class:`Mailbox`)."""
    mailbox = Mailbox(**options)
    server = _Server(mailbox)
    thread = threading.Thread(target=server.serve_forever, name="test-smtp", daemon=True)
    thread.start()
    running = SMTPServer(mailbox=mailbox, _server=server, _thread=thread)
    try:
        yield running
    finally:
        running.stop()
