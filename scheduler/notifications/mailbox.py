"""A local SMTP server whose messages can be read: `python -m scheduler.notifications.mailbox` (Procfile.dev).

`make run` sends mail here instead of to the world: each message is stored as a `.eml` file under
`instance/mailbox/`; `flask --app app reminders mailbox` lists them, `--show N` prints one. The
tests use `Mailbox` in memory with aiosmtpd's Controller.
"""
from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

import settings as maillage_settings
from scheduler.notifications.mail import SmtpSettings


class Mailbox:
    """aiosmtpd handler: keeps every message (and writes it to `directory` if given)."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            if self.directory is not None:
                name = f"{time.time_ns()}-{len(self.messages):06d}.eml"
                (self.directory / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def __len__(self) -> int:
        return len(self.messages)


def stored_messages(directory: Path) -> list[tuple[Path, EmailMessage]]:
    if not directory.exists():
        return []
    return [(path, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
            for path in sorted(directory.glob("*.eml"))]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # The same settings, read the same way, as the app that sends (SMTP_URL) and lists (MAILBOX_DIR).
    settings = SmtpSettings.from_url(maillage_settings.value("SMTP_URL"))
    directory = Path(maillage_settings.value("MAILBOX_DIR"))
    controller = Controller(Mailbox(directory), hostname=settings.host, port=settings.port)
    controller.start()
    logging.getLogger("maillage.mailbox").info(
        "boîte aux lettres locale sur %s:%d, messages dans %s", settings.host, settings.port, directory)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
