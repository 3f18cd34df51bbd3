"""One digest per address: on the demo territory, the first `flask reminders run-due` sends at
most one message to each address (counted on a real SMTP server), each of its case links opening
the case's page for that recipient; a webhook gets one event per case change."""
import re
from collections import Counter
from email import policy
from email.parser import BytesParser

import pytest

from tests.test_reminders import free_port


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) on a free port; the app sends to it."""
    from aiosmtpd.controller import Controller

    from scheduler.notifications.mailbox import Mailbox

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    yield box
    controller.stop()
    app.config["SMTP_URL"] = previous


def _text(message) -> str:
    if not hasattr(message, "get_body"):
        message = BytesParser(policy=policy.default).parsebytes(bytes(message))
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_demos_first_run_sends_one_message_per_address_each_linking_to_its_case_pages(
        app, client, smtp_server):
    runner = app.test_cli_runner()
    for args in (["demo", "load"], ["conflicts", "detect"], ["reminders", "run-due"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    messages = list(smtp_server.messages)
    per_address = Counter(m["To"] for m in messages)
    assert messages and max(per_address.values()) == 1, per_address.most_common(3)
    assert "coordination@demo.maillage.fr" in per_address

    base = app.config["BASE_URL"]
    linked = 0
    for message in messages:
        text = _text(message)
        for case_id, token in re.findall(re.escape(base) + r"/coordination/cas/(\d+)\?jeton=(\S+)", text):
            response = client.get(f"/coordination/cas/{case_id}?jeton={token}")
            assert response.status_code == 200, (message["To"], case_id)
            linked += 1
            # The link is the recipient's: it opens nothing for another case.
            assert client.get(f"/coordination/cas/{int(case_id) + 1000}?jeton={token}").status_code == 404
    assert linked >= 5  # the demo's five cases, at least once each

    # Nothing is sent twice: the next minute has nothing to say.
    smtp_server.messages.clear()
    assert runner.invoke(args=["reminders", "run-due"]).exit_code == 0
    assert not [m for m in smtp_server.messages if "Chevauchement" in m["Subject"]]


def test_a_partners_webhook_gets_one_event_per_case_change(app, client, webhook_receiver, private_urls_allowed,
                                                            create_quartier, create_partner, create_place,
                                                            create_event):
    import json
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from models import Delivery, PartnerReminderSettings, db
    from scheduler.conflicts.nightly import run_full_detection
    from scheduler.notifications.sending import run_due

    create_quartier("QN03801M")
    ml = create_partner("mission-locale")
    cs = create_partner("centre-social", type="centre_social")
    bij = create_place("bij", quartier="QN03801M")
    db.session.add(PartnerReminderSettings(partner_id=ml.id, webhook_url=webhook_receiver.url, webhook_secret="s"))
    db.session.commit()
    create_event(bij, [ml], frequency="weekly", count=8, skip_public_holidays=False)
    create_event(bij, [cs], title="Atelier", frequency="weekly", count=8, skip_public_holidays=False)
    run_full_detection()
    db.session.commit()
    run_due(datetime.now(UTC))
    hooks = list(db.session.scalars(sa.select(Delivery).where(Delivery.channel == "webhook")))
    assert len(hooks) == 1 and hooks[0].payload["change"] == "opened"
    [(_, body)] = webhook_receiver.received
    assert json.loads(body)["case"]["dates"]["open"] == 8
