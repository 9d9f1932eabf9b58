"""Alert channels that cannot deliver: `officers add` refuses a channel the officer has no
address for and warns when the channel's provider is not configured; `serve` and `worker`
log one warning per channel active officers want that is not configured."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.casework.helpers import PASSWORD
from tests.channels.helpers import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN, FROM_NUMBER
from web.cli import main

PHONE = "+447700900777"
CHAT_ID = "4242"
#: What the logs must never name: the officers, their addresses.
NEVER = ("Sid", "Tess", "Eve", "sid@", "tess@", "eve@", "old@", PHONE, "7700900777", CHAT_ID)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def add(email: str, *options: str) -> Result:
    return run("officers", "add", "--name", email.split("@")[0].title(), "--email", email,
               "--password-stdin", *options, input=PASSWORD + "\n")


def listed() -> list[str]:
    return [entry["email"] for entry in json.loads(run("officers", "list", "--json").output)]


@pytest.fixture
def twilio_env(monkeypatch):
    for name, value in (("TWILIO_ACCOUNT_SID", ACCOUNT_SID), ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
                        ("TWILIO_FROM_NUMBER", FROM_NUMBER)):
        monkeypatch.setenv(name, value)


def test_sms_or_telegram_alerts_without_the_address_are_refused(cli_env):
    sms = add("sid@landlord.example", "--alerts", "sms")
    assert sms.exit_code != 0
    assert "SMS alerts need --phone" in sms.output and "Traceback" not in sms.output
    blank = add("sid@landlord.example", "--alerts", "sms", "--phone", "")
    assert blank.exit_code != 0 and "SMS alerts need --phone" in blank.output
    telegram = add("tess@landlord.example", "--alerts", "telegram", "--phone", PHONE)
    assert telegram.exit_code != 0
    assert "Telegram alerts need --telegram-chat" in telegram.output
    assert listed() == []


def test_alerts_on_a_channel_that_is_not_configured_are_added_with_a_warning(cli_env):
    sms = add("sid@landlord.example", "--alerts", "sms", "--phone", PHONE)
    assert sms.exit_code == 0, sms.output
    assert "added officer Sid" in sms.stdout
    assert "warning: alerts by sms are not configured" in sms.stderr
    assert "TWILIO_ACCOUNT_SID" in sms.stderr and "outbox" in sms.stderr
    telegram = add("tess@landlord.example", "--alerts", "telegram", "--telegram-chat", CHAT_ID)
    assert telegram.exit_code == 0, telegram.output
    assert "warning: alerts by telegram are not configured" in telegram.stderr
    assert "TELEGRAM_BOT_TOKEN" in telegram.stderr
    email = add("eve@landlord.example")
    assert email.exit_code == 0, email.output
    assert "warning: alerts by email are not configured" in email.stderr
    assert "SMTP_HOST" in email.stderr
    assert sorted(listed()) == ["eve@landlord.example", "sid@landlord.example",
                                "tess@landlord.example"]


def test_alerts_on_a_configured_channel_are_added_without_a_warning(cli_env, twilio_env,
                                                                    monkeypatch, smtp):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("SMTP_FROM", "alerts@landlord.example")
    for result in (add("sid@landlord.example", "--alerts", "sms", "--phone", PHONE),
                   add("tess@landlord.example", "--alerts", "telegram",
                       "--telegram-chat", CHAT_ID),
                   add("eve@landlord.example")):
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output.lower()


def test_worker_logs_one_warning_per_channel_wanted_but_not_configured(mail_env,
                                                                       caplog):
    """Email is configured here (the local SMTP server); SMS and Telegram are not."""
    add("sid@landlord.example", "--alerts", "sms", "--phone", PHONE)
    add("eve@landlord.example")  # email: configured
    add("old@landlord.example", "--alerts", "telegram", "--telegram-chat", CHAT_ID)
    assert run("officers", "disable", "old@landlord.example").exit_code == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hatereport"):
        result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    warnings = [record.getMessage() for record in caplog.records
                if record.name == "hatereport" and record.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # sms; not email (configured), not telegram (disabled)
    assert "alerts by sms, which is not configured" in warnings[0]
    for secret in NEVER:
        assert secret not in caplog.text, secret


def test_worker_says_nothing_when_every_wanted_channel_is_configured(mail_env,
                                                                      twilio_env, caplog):
    add("sid@landlord.example", "--alerts", "sms", "--phone", PHONE)
    add("eve@landlord.example")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hatereport"):
        assert run("worker", "--once").exit_code == 0
    assert [record for record in caplog.records if "not configured" in record.getMessage()
            ] == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_logs_the_channels_that_are_not_configured_at_start(cli_env: Path):
    add("sid@landlord.example", "--alerts", "sms", "--phone", PHONE)
    add("tess@landlord.example", "--alerts", "telegram", "--telegram-chat", CHAT_ID)
    port = free_port()
    hatereport = Path(sys.executable).with_name("hatereport")
    process = subprocess.Popen(
        [str(hatereport), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    warnings = [line for line in output.splitlines() if "WARNING" in line
                and "not configured" in line]
    assert len(warnings) == 2, output
    assert "alerts by sms" in warnings[0] and "alerts by telegram" in warnings[1]
    for secret in NEVER:
        assert secret not in output, secret
