"""An SMTP server on loopback (aiosmtpd) that keeps every message it receives.

Plain SMTP without TLS or authentication, as Apprise reaches it with
`mailto://127.0.0.1:<port>?from=haven@example.org&to=parent@example.org`.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclasses.dataclass(frozen=True)
class Mail:
    """One message received: its envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text body (or the first part's body)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(envelope.mail_from or "", list(envelope.rcpt_tos), message)
        with self.server._lock:
            self.server._mails.append(mail)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller, listening on a socket bound to a free port beforehand (its own
    start-up check cannot connect to port 0)."""

    def __init__(self, handler: Any, sock: socket.socket) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, server_hostname="localhost")

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpServer:
    """An SMTP server on 127.0.0.1 with a free port; use it as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []
        self._controller: _Controller | None = None
        self.port = 0

    @property
    def mails(self) -> list[Mail]:
        """Every message received, in order (a copy)."""
        with self._lock:
            return list(self._mails)

    def start(self) -> Self:
        """Bind and serve in aiosmtpd's thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._controller = _Controller(_Handler(self), sock)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving and join aiosmtpd's thread."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
