"""Email out: the SMTP server of `SMTP_URL`, messages in French as text and HTML.

Exactly once over SMTP: the server takes responsibility for a message when it receives the
final "." of DATA. We send everything but that dot, let the caller commit "sent" in the
database, then send the dot. A process killed before the commit leaves a half-sent message the
server throws away (and the row still pending: it is sent again after the restart); killed after
it, the dot follows at once. The window that could lose a message is a few microseconds between
the commit and one socket write, instead of the server's whole processing time that the usual
"send, then record" would expose to a duplicate.
"""
from __future__ import annotations

import email.policy
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")
_LINE_STARTING_WITH_DOT = re.compile(rb"(?m)^\.")


def _dot_stuffed(body: bytes) -> bytes:
    """The body as SMTP's DATA carries it (RFC 5321, 4.5.2): a line that starts with a dot gets a
    second one, or the server would take the line for the end of the message."""
    return _LINE_STARTING_WITH_DOT.sub(b"..", body)
FROM_ADDRESS = "Maillage <ne-pas-repondre@maillage.localhost>"


class SmtpUnavailable(Exception):
    """The server could not be reached or refused the message: try again later."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    use_ssl: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """smtp://host:port, smtps://user:password@host:port (user and password URL-encoded)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL doit être de la forme smtp://hôte:port ou smtps://… (reçu : {url!r})")
        use_ssl = parts.scheme == "smtps"
        return cls(parts.hostname, parts.port or (465 if use_ssl else 25), use_ssl,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


def build_message(*, to: str, subject: str, text: str, html: str, headers: dict | None = None,
                  attachments: Sequence[tuple[str, str, bytes]] = (), message_id_domain: str = "maillage") -> Message:
    """multipart/mixed: the text and HTML alternatives, then the attachments.

    Built with the compat32 classes: the modern EmailMessage API parses every header it sets and
    costs about 20 ms a message here, which a thousand reminders feel."""
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(text, "plain", "utf-8"))
    body.attach(MIMEText(html, "html", "utf-8"))
    if attachments:
        message = MIMEMultipart("mixed")
        message.attach(body)
        for filename, mimetype, data in attachments:
            maintype, subtype = mimetype.split("/", 1)
            part = MIMEBase(maintype, subtype, charset="utf-8")
            part.set_payload(data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            message.attach(part)
    else:
        message = body
    message["From"] = FROM_ADDRESS
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    for name, value in (headers or {}).items():
        message[name] = value
    return message


class SmtpSender:
    """One connection reused for a batch of messages (a sender process: for as long as it runs),
    opened again at the next message after a failure; `with SmtpSender(settings) as smtp:`."""

    def __init__(self, settings: SmtpSettings, timeout: float = 30):
        self.settings = settings
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None
        self.down = False  # the last message lost the connection, or found no server

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.connection = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        connection: smtplib.SMTP
        try:
            if s.use_ssl:
                connection = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout,
                                              context=ssl.create_default_context())
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            # The final dot goes in a write of its own: without NODELAY, Nagle's algorithm holds
            # it until the server's delayed ACK (40 ms a message).
            assert connection.sock is not None  # SMTP(host) connects in its constructor
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            if s.username:
                connection.login(s.username, s.password or "")
        except (smtplib.SMTPException, OSError) as error:
            self.down = True
            raise SmtpUnavailable(f"serveur SMTP injoignable ({s.host}:{s.port}) : {error}") from error
        self.down = False
        return connection

    def send(self, message: Message, before_final_dot: Callable[[], None]) -> None:
        """Sends one message; calls `before_final_dot()` (the caller's commit) just before the
        server takes it; if it raises, the message is abandoned. Raises SmtpUnavailable when the
        message was not taken."""
        if self.connection is None:
            self.connection = self._connect()
        smtp = self.connection
        sender = parseaddr(message["From"])[1]
        recipients = [parseaddr(message["To"])[1]]
        try:
            # No RSET between messages: every transaction ends at its final dot's reply, and one
            # that fails earlier drops the connection.
            code, reply = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            body = _dot_stuffed(message.as_bytes(policy=WIRE_POLICY))
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            smtp.send(body)
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise SmtpUnavailable(f"envoi refusé ou interrompu : {error}") from error
        try:
            before_final_dot()
        except BaseException:
            # Not taken (the commit failed, or another sender has the row): the message must not
            # be ended, and nothing but the dot can end DATA, so the connection goes and the
            # server throws the message away. The server itself is fine.
            self._drop(down=False)
            raise
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise SmtpUnavailable(f"connexion perdue à la fin de l'envoi : {error}") from error
        if code != 250:
            raise SmtpUnavailable(f"message refusé par le serveur : {code} {reply!r}")

    def _drop(self, down: bool = True) -> None:
        self.down = down
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None
