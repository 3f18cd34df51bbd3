"""Mail for real: an SMTP server (aiosmtpd) the tests start (the `mailbox` fixture, registered
by conftest), the clock's sending run at an instant, a message's text."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpers.processes import free_port


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def mailbox(app):
    """A real SMTP server on a free port; the app sends to it."""
    from aiosmtpd.controller import Controller

    from scheduler.notifications.mailbox import Mailbox

    box = Mailbox()
    box.port = free_port()
    box.controller = Controller(box, hostname="127.0.0.1", port=box.port)
    box.controller.start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{box.port}"
    yield box
    if box.controller._thread is not None:  # some tests stop it themselves (SMTP down)
        box.controller.stop()
    app.config["SMTP_URL"] = previous


def run(now: str | datetime):
    from scheduler.notifications.sending import run_due

    return run_due(at(now) if isinstance(now, str) else now)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()
