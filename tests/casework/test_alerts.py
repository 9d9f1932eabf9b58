"""Officer alerts (issue 5, point 3): through the outbox to a real SMTP server, by SMS and
Telegram for officers who chose them; the reference, the urgency and a link, never the
reporter's words or special-category details; retried until the mail server is back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.db import transaction
from intake.models import Officer, OutboxMessage
from tests.casework.conftest import SMTP_FROM
from tests.casework.helpers import (
    SCRIPT,
    alerts,
    deliver_all,
    officer,
    report,
    urgent_report,
)
from web.extensions import services

LINK = "https://report.example.org/cases/{}"

#: What an alert must never carry: the reporter's words and identity, and the
#: special-category details (the characteristic targeted, injuries, who was at risk).
NEVER = (
    SCRIPT["description"],
    "shouted abuse",
    SCRIPT["name"],
    "Sam",
    SCRIPT["contact_details"],
    "07700",
    "900123",
    SCRIPT["place"],
    "Example Street",
    SCRIPT["outcome"],
    SCRIPT["crime_reference"],
    "Religion",
    "religion",
    "injur",
    "Injur",
    "hurt",
    "vulnerable",
    "Vulnerable",
    "child",
)


def assert_nothing_personal(words: str) -> None:
    for secret in NEVER:
        assert secret not in words, secret


def test_an_officer_gets_an_email_with_the_reference_and_a_link_only(app, smtp, clock):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    _, reference = report(app)
    assert smtp.mails == []  # queued in the submission's transaction, not sent inside it
    assert deliver_all(app) == 1
    [mail] = smtp.mails
    assert mail.mail_from == SMTP_FROM
    assert mail.rcpt_tos == ["nia@landlord.example"]
    assert mail.message["From"] == SMTP_FROM and mail.message["To"] == "nia@landlord.example"
    assert reference in mail.subject and "New case" in mail.subject
    assert "URGENT" not in mail.whole
    assert reference in mail.body
    assert LINK.format(reference) in mail.body
    assert_nothing_personal(mail.whole)
    [row] = alerts(app)
    assert row.status == "sent" and row.attempts == 1
    assert row.recipient is None and row.payload is None  # cleared once sent
    # Sent once: a second pass finds nothing.
    assert deliver_all(app) == 0
    assert len(smtp.mails) == 1


@pytest.mark.parametrize("answers", [{"safety": "yes"}, {"injuries": "yes"},
                                     {"vulnerable": "yes"}],
                         ids=["danger", "injury", "vulnerable"])
def test_an_urgent_alert_says_urgent_and_copies_a_manager_without_details(app, smtp, clock,
                                                                          answers):
    officer(app, "Dee Duty", "dee@landlord.example", duty=True)
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    _, reference = report(app, **answers)
    assert deliver_all(app) == 2
    [to_duty] = smtp.to("dee@landlord.example")
    [to_manager] = smtp.to("max@landlord.example")
    for mail in (to_duty, to_manager):
        assert "URGENT" in mail.subject and reference in mail.subject
        assert LINK.format(reference) in mail.body
        assert_nothing_personal(mail.whole)
    assert "copy" in to_manager.subject.lower()


def test_sms_and_telegram_alerts_reach_officers_who_chose_them(app, smtp, fake_twilio,
                                                               fake_telegram, clock):
    officer(app, "Sid Sms", "sid@landlord.example", duty=True, alerts="sms",
            phone="+447700900999")
    officer(app, "Tess Telegram", "tess@landlord.example", role="manager",
            alerts="telegram", telegram_chat="555000111")
    reference = urgent_report(app)
    assert deliver_all(app) == 2
    [text_message] = fake_twilio.messages
    assert text_message["to"] == "+447700900999"
    assert reference in text_message["body"] and "URGENT" in text_message["body"]
    assert LINK.format(reference) in text_message["body"]
    assert_nothing_personal(text_message["body"])
    [chat_message] = fake_telegram.sent
    assert chat_message["chat_id"] == 555000111
    assert reference in chat_message["text"] and "URGENT" in chat_message["text"]
    assert LINK.format(reference) in chat_message["text"]
    assert_nothing_personal(chat_message["text"])
    assert smtp.mails == []  # neither wanted email


def test_an_alert_waits_for_the_mail_server_and_is_delivered_once(app, smtp, clock):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    _, reference = report(app)
    smtp.stop()
    done = services(app).outbox.deliver_due()
    assert (done.sent, done.retrying, done.dead) == (0, 1, 0)
    [row] = alerts(app)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("smtp")
    assert row.next_attempt_at > clock.now  # backed off
    assert row.recipient == "nia@landlord.example"  # kept until sent
    assert deliver_all(app) == 0  # not due again yet
    smtp.start()  # back, on the same port
    assert deliver_all(app) == 0  # still backing off: the clock has not moved
    clock.advance(minutes=1)
    assert deliver_all(app) == 1
    [mail] = smtp.mails
    assert reference in mail.subject
    [row] = alerts(app)
    assert row.status == "sent" and row.attempts == 2
    clock.advance(hours=1)
    assert deliver_all(app) == 0
    assert len(smtp.mails) == 1


def test_an_officer_without_the_address_their_channel_needs_gets_email(app, smtp, clock):
    """Alerts by SMS with the phone gone (or never reachable) fall back to email, never
    to nothing."""
    officer(app, "Sid Sms", "sid@landlord.example", areas=["Normanton"], alerts="sms",
            phone="+447700900999")
    with transaction(services(app).sessions) as session:
        found = session.scalar(select(Officer).where(Officer.email == "sid@landlord.example"))
        assert found is not None
        found.phone = None
    _, reference = report(app)
    [row] = alerts(app)
    assert isinstance(row, OutboxMessage) and row.channel == "email"
    assert deliver_all(app) == 1
    assert reference in smtp.to("sid@landlord.example")[0].subject
