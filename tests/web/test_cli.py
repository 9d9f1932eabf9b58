"""The hatereport command: terminal chat, cases list and show."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from web.cli import main

TERMINAL_ANSWERS = [
    "2",            # not in danger
    "1",            # it happened to me
    "2",            # stay anonymous
    "A man on the bus called me names because I wear a headscarf.",
    "1 2",          # verbal abuse, intimidation
    "2",            # religion or belief
    "on Friday",
    "4",            # somewhere else
    "Bus station, Arboretum",
    "1",            # Arboretum, offered first because the address names it
    "3",            # not sure
    "4",            # don't know who
    "no", "no",
    "3",            # police: not now
    "no",           # Stop Hate UK
    "skip", "skip",
    "1",            # send report
]


@pytest.fixture
def env(tmp_path, monkeypatch, data_key):
    monkeypatch.setenv("HATEREPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HATEREPORT_DATA_KEY", data_key)
    monkeypatch.setenv("HATEREPORT_HASH_KEY", "cli-test-hash-key-" + "y" * 32)
    return tmp_path


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def test_terminal_chat_holds_a_whole_report(env):
    result = run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    assert result.exit_code == 0, result.output
    assert "Are you in danger right now?" in result.output
    assert "  1. Yes" in result.output and "  2. No" in result.output
    match = re.search(r"Reference: (HR-[A-Z0-9]{4}-[A-Z0-9]{4})", result.output)
    assert match, result.output[-2000:]
    shown = run("cases", "show", match.group(1), "--json")
    case = json.loads(shown.output)
    assert case["channel"] == "terminal"
    assert case["anonymous"] is True
    assert case["behaviours"] == ["verbal_abuse", "intimidation"]
    assert case["characteristics"] == ["religion"]
    assert case["where"]["area"] == "Arboretum"
    assert case["description"].startswith("A man on the bus")


def test_terminal_chat_ends_cleanly_when_input_ends(env):
    result = run("chat", input="2\n")
    assert result.exit_code == 0
    assert "Left without sending" in result.output


def test_cases_list_and_show_json_keys_are_stable(env):
    assert run("cases", "list", "--json").output.strip() == "[]"
    assert "No cases yet" in run("cases", "list").output
    run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    listed = json.loads(run("cases", "list", "--json").output)
    assert len(listed) == 1
    required = {"reference", "channel", "language", "anonymous", "role", "description",
                "behaviours", "characteristics", "urgent", "classification", "created_at"}
    assert required <= set(listed[0])
    assert listed[0]["classification"] in ("hate_crime", "hate_incident")
    text_listing = run("cases", "list").output
    assert listed[0]["reference"] in text_listing
    shown = run("cases", "show", listed[0]["reference"].lower())
    assert "description" in shown.output


def test_cases_show_unknown_reference_fails_clearly(env):
    result = run("cases", "show", "HR-0000-0000")
    assert result.exit_code != 0
    assert "no case with reference HR-0000-0000" in result.output


def test_serve_help_names_host_and_port():
    result = run("serve", "--help")
    assert "--host" in result.output and "--port" in result.output


def test_languages_lists_every_shipped_language(env):
    from intake.languages import as_json

    result = run("languages", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == as_json()
    text = run("languages").output
    assert "ar   rtl  Arabic" in text and "ትግርኛ" in text


def test_outbox_reports_states_and_dead_letters_without_personal_data(env):
    from datetime import datetime

    from intake.db import transaction
    from intake.outbox import enqueue
    from web import create_app
    from web.extensions import services

    app = create_app()
    with transaction(services(app).sessions) as session:
        message = enqueue(session, "telegram", "987654321", {"text": "secret words"}, "reply",
                          datetime(2026, 1, 1))
        message.status = "dead"
        message.attempts = 20
        message.last_error = "telegram NetworkError"
        enqueue(session, "sms", "+447700900123", {"text": "more words"}, "reply",
                datetime(2026, 1, 1))
    result = run("outbox", "--json")
    report = json.loads(result.output)
    assert report["counts"] == {"dead": 1, "pending": 1}
    assert report["dead"][0]["last_error"] == "telegram NetworkError"
    for secret in ("987654321", "secret words", "+447700900123"):
        assert secret not in result.output
    assert "dead #1 telegram reply after 20 attempts" in run("outbox").output


def test_cases_show_flags_the_interpreter_language(env):
    answers = list(TERMINAL_ANSWERS)
    result = run("chat", input="\n".join(["/language", "pl", *answers[:]]) + "\n")
    match = re.search(r"(HR-[A-Z0-9]{4}-[A-Z0-9]{4})", result.output)
    assert match, result.output[-1500:]
    shown = run("cases", "show", match.group(1)).output
    assert re.search(r"interpreter: Polish", shown), shown


def test_reading_cases_on_the_command_line_is_audited(env):
    from sqlalchemy import select

    from intake.models import AuditEntry
    from web import create_app
    from web.extensions import services

    run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    reference = json.loads(run("cases", "list", "--json").output)[0]["reference"]
    run("cases", "show", reference)
    with services(create_app()).sessions() as session:
        entries = session.scalars(select(AuditEntry)).all()
        assert [(entry.action, entry.case.reference, entry.data) for entry in entries] == [
            ("view_case_cli", reference, {"list": True}), ("view_case_cli", reference, {})]
