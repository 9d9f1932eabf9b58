"""A reporter who asked for email gets the fortnightly update from the service's address,
with Reply-To their officer: a reply reaches a person, not an unread mailbox."""

from __future__ import annotations

from intake.db import transaction
from intake.updates import run_due
from tests.casework.conftest import SMTP_FROM
from tests.casework.helpers import deliver_all, officer, report
from web.extensions import services


def test_an_email_update_comes_with_reply_to_the_officer(app, smtp, clock):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    _, reference = report(app, contact_method="email", contact_details="sam@example.org",
                          leave_messages="yes")
    deliver_all(app)  # the officer's new-case alert
    clock.advance(days=14, minutes=1)
    the = services(app)
    with transaction(the.sessions) as session:
        assert run_due(session, clock(), the.casework).sent == 1
    deliver_all(app)
    [mail] = smtp.to("sam@example.org")
    assert mail.message["From"] == SMTP_FROM
    assert mail.message["Reply-To"] == "nia@landlord.example"
    assert reference in mail.subject and reference in mail.body
    assert "Nia Normanton" in mail.body
    # The officer's own alerts carry no Reply-To: they are not written to.
    assert all(one.message["Reply-To"] is None for one in smtp.to("nia@landlord.example"))
