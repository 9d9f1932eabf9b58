"""`hatereport worker --once` (issue 5, point 3): runs the jobs, delivers what is due to the
real SMTP server, prints what it did, and exits."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner, Result

from tests.casework.helpers import PASSWORD
from tests.web.test_cli import TERMINAL_ANSWERS
from web.cli import main


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def counts(output: str) -> dict[str, int]:
    """What `worker --once` says it did: escalations, expired conversations, messages sent."""
    found = {name: re.search(rf"\b{name} (\d+)", output)
             for name in ("escalated", "expired", "sent")}
    assert all(found.values()), output
    return {name: int(match.group(1)) for name, match in found.items() if match}


def add(email: str, *options: str) -> None:
    result = run("officers", "add", "--name", email.split("@")[0].title(), "--email", email,
                 "--password-stdin", *options, input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output


def submit() -> str:
    chat = run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    match = re.search(r"Reference: (HR-[A-Z0-9]{4}-[A-Z0-9]{4})", chat.output)
    assert match, chat.output[-1000:]
    return match.group(1)


def test_worker_once_delivers_what_is_due_and_says_so(mail_env, smtp):
    add("ari@landlord.example", "--areas", "Arboretum")
    reference = submit()
    assert smtp.mails == []  # queued by the submission; nothing sends it but a worker
    pending = json.loads(run("outbox", "--json").output)["counts"]
    assert pending == {"pending": 1}
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert counts(result.output) == {"escalated": 0, "expired": 0, "sent": 1}
    [mail] = smtp.mails
    assert mail.rcpt_tos == ["ari@landlord.example"]
    assert reference in mail.subject
    assert f"https://report.example.org/cases/{reference}" in mail.body
    again = run("worker", "--once")
    assert counts(again.output) == {"escalated": 0, "expired": 0, "sent": 0}
    assert len(smtp.mails) == 1
    assert json.loads(run("outbox", "--json").output)["counts"] == {"sent": 1}


def test_worker_once_escalates_then_delivers(mail_env, smtp, monkeypatch):
    """With escalation after zero working days, the jobs escalate at once; the manager's
    alert goes out in the same run."""
    monkeypatch.setenv("HATEREPORT_ESCALATE_WORKING_DAYS", "0")
    add("ari@landlord.example", "--areas", "Arboretum")
    add("max@landlord.example", "--role", "manager")
    reference = submit()
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert counts(result.output) == {"escalated": 1, "expired": 0, "sent": 2}
    [to_manager] = smtp.to("max@landlord.example")
    assert "Not acknowledged in time" in to_manager.subject and reference in to_manager.subject
    assert len(smtp.to("ari@landlord.example")) == 1
    assert counts(run("worker", "--once").output) == {"escalated": 0, "expired": 0, "sent": 0}


def test_worker_once_leaves_undeliverable_mail_for_the_next_run(mail_env, smtp):
    add("ari@landlord.example", "--areas", "Arboretum")
    submit()
    smtp.stop()
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert counts(result.output)["sent"] == 0
    waiting = json.loads(run("outbox", "--json").output)["counts"]
    assert waiting == {"pending": 1}  # kept, with one attempt, for the next run
