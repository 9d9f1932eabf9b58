"""The Telegram channel end to end: updates in through the webhook (or long polling),
replies out through python-telegram-bot's Bot to a local fake of the Bot API."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.telegram import MAX_MESSAGE_CHARS
from intake.models import Conversation
from tests.channels.helpers import (
    ANONYMOUS,
    BOT_TOKEN,
    CHAT,
    NAMED,
    PUBLIC_URL,
    WEBHOOK_SECRET,
    answers_of,
    button_update,
    buttons,
    case_fields,
    case_of,
    conversation_of,
    deliver_all,
    drive_telegram,
    drive_web,
    message_update,
    outbox_rows,
    post_update,
    queue,
    raw_database,
    row_counts,
    step_of,
)
from tests.conftest import HASH_KEY
from web.cli import main
from web.extensions import services

CANARY = "Zebracanary-7731"
OTHER_CHAT = 555000111


def calls_to(fake, method: str) -> list[dict]:
    return [params for name, params in fake.calls if name == method]


# -- the webhook only listens to Telegram ----------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "not-the-secret", WEBHOOK_SECRET + "x"])
def test_an_update_without_the_secret_token_is_refused_and_stores_nothing(
        app, client, fake_telegram, secret):
    before = row_counts(app)

    response = post_update(client, message_update("Hello"), secret=secret)

    assert response.status_code == 403
    assert row_counts(app) == before == dict.fromkeys(before, 0)
    deliver_all(app)
    assert fake_telegram.calls == []


def test_replies_go_out_through_the_bot_with_buttons_and_a_press_is_answered(
        app, client, fake_telegram):
    response = post_update(client, message_update("/start"))

    assert response.status_code == 200
    assert fake_telegram.sent == []  # queued in the turn, sent by the outbox
    assert deliver_all(app) == 1
    [greeting] = fake_telegram.sent
    assert greeting["chat_id"] == CHAT
    assert greeting["text"].endswith("Are you in danger right now?")
    # Each button's data names the question it answers, then the choice.
    assert buttons(greeting) == [("Yes", "safety|yes"), ("No", "safety|no")]

    press = button_update("no")
    assert post_update(client, press).status_code == 200
    deliver_all(app)

    assert step_of(app, "telegram", str(CHAT)) == "role"
    assert answers_of(app, "telegram", str(CHAT))["safety"] == "no"
    answered = calls_to(fake_telegram, "answerCallbackQuery")
    assert [params["callback_query_id"] for params in answered] == [
        press["callback_query"]["id"]]
    question = fake_telegram.sent[-1]
    assert question["text"] == "Who are you reporting as?"
    assert [value for _, value in buttons(question)] == [
        "role|victim", "role|witness", "role|on_behalf", "role|staff", "role|skip"]
    methods = [name for name, _ in fake_telegram.calls if name != "getMe"]
    assert methods == ["sendMessage", "answerCallbackQuery", "sendMessage"]


def test_the_same_update_is_applied_and_answered_once(db_app, db_client, fake_telegram):
    start, press, newer = message_update("/start"), button_update("no"), button_update("victim")
    for update in (start, start, press, press):
        assert post_update(db_client, update).status_code == 200
        deliver_all(db_app)
    assert len(fake_telegram.sent) == 2
    assert len(calls_to(fake_telegram, "answerCallbackQuery")) == 1
    assert step_of(db_app, "telegram", str(CHAT)) == "role"

    post_update(db_client, newer)
    deliver_all(db_app)
    assert step_of(db_app, "telegram", str(CHAT)) == "anonymous"

    # Older updates delivered again, out of order, after newer ones: nothing happens.
    for update in (press, start):
        assert post_update(db_client, update).status_code == 200
    deliver_all(db_app)
    assert len(fake_telegram.sent) == 3
    assert len(calls_to(fake_telegram, "answerCallbackQuery")) == 2
    assert step_of(db_app, "telegram", str(CHAT)) == "anonymous"
    assert answers_of(db_app, "telegram", str(CHAT))["role"] == "victim"
    counts = row_counts(db_app)
    assert counts["conversations"] == 1
    assert counts["inbound_messages"] == 3


# -- commands ---------------------------------------------------------------------------------


def test_start_and_help_on_a_conversation_explain_and_keep_the_place(app, client,
                                                                     fake_telegram):
    drive_telegram(client, app, fake_telegram, NAMED, until="description")

    for command in ("/start", "/help", "/help@hatereport_test_bot"):
        post_update(client, message_update(command))
        deliver_all(app)
        said = fake_telegram.sent[-1]["text"]
        assert "You can send 'back'" in said and "call 999" in said
        assert said.endswith("What happened? Tell us in your own words.")
        assert step_of(app, "telegram", str(CHAT)) == "description"
    assert answers_of(app, "telegram", str(CHAT))["name"] == "Sam Example"


def test_cancel_pauses_and_the_next_message_carries_on(app, client, fake_telegram):
    drive_telegram(client, app, fake_telegram, NAMED, until="description")

    post_update(client, message_update("/cancel"))
    deliver_all(app)

    assert fake_telegram.sent[-1]["text"].startswith("OK, we have stopped.")
    conversation = conversation_of(app, "telegram", str(CHAT))
    assert conversation is not None and conversation.status == "paused"

    post_update(client, message_update("Hello again"))
    deliver_all(app)
    said = fake_telegram.sent[-1]["text"]
    assert said.startswith("Welcome back.")
    assert said.endswith("What happened? Tell us in your own words.")
    conversation = conversation_of(app, "telegram", str(CHAT))
    assert conversation is not None and conversation.status == "active"
    assert answers_of(app, "telegram", str(CHAT))["name"] == "Sam Example"


def test_language_shows_the_language_menu(app, client, fake_telegram):
    drive_telegram(client, app, fake_telegram, NAMED, until="description")

    post_update(client, message_update("/language"))
    deliver_all(app)

    menu = fake_telegram.sent[-1]
    assert menu["text"] == "Choose your language."
    values = [value for _, value in buttons(menu)]
    assert {"language|en", "language|pl", "language|ar", "language|ur"} <= set(values)
    assert ("Polski", "language|pl") in buttons(menu)

    post_update(client, button_update("pl"))
    deliver_all(app)
    conversation = conversation_of(app, "telegram", str(CHAT))
    assert conversation is not None and conversation.locale == "pl"
    assert conversation.step == "description" and conversation.mode is None


# -- long messages ------------------------------------------------------------------------------


def test_a_message_over_4096_characters_is_split(app, client, fake_telegram):
    words = [f"word{number:04d}" for number in range(1, 557)]
    description = " ".join(words)
    assert len(description) > 5000
    drive_telegram(client, app, fake_telegram, dict(NAMED, description=description),
                   until="review")

    sent = fake_telegram.sent
    first = next(index for index, message in enumerate(sent)
                 if message["text"].startswith("Please check your report:"))
    pieces = sent[first:]
    assert len(pieces) >= 2
    assert all(len(piece["text"]) <= MAX_MESSAGE_CHARS for piece in pieces)
    assert all(len(message["text"]) <= MAX_MESSAGE_CHARS for message in sent)
    said = " ".join(piece["text"] for piece in pieces).split()
    assert [word for word in said if re.fullmatch(r"word\d{4}", word)] == words
    # The buttons come with the last piece, where the reporter reads to.
    assert [value for _, value in buttons(pieces[-1])] == ["review|submit", "review|edit"]
    assert all(buttons(piece) == [] for piece in pieces[:-1])


# -- whole reports --------------------------------------------------------------------------------


def test_a_named_telegram_report_equals_the_web_chat_one_and_keeps_the_chat(
        db_app, db_client, fake_telegram):
    reference = drive_telegram(db_client, db_app, fake_telegram, NAMED)
    web_reference = drive_web(db_client, db_app, NAMED)

    assert case_fields(db_app, reference) == case_fields(db_app, web_reference)
    assert case_fields(db_app, reference)["contact"]["method"] == "this_channel"
    case = case_of(db_app, "telegram", str(CHAT))
    assert case.channel == "telegram"
    assert case.channel_address == str(CHAT)
    assert f"Reference: {reference}." in fake_telegram.sent[-1]["text"]


def test_an_anonymous_telegram_report_equals_the_web_chat_one_and_keeps_no_chat(
        db_app, db_client, fake_telegram):
    reference = drive_telegram(db_client, db_app, fake_telegram, ANONYMOUS)
    web_reference = drive_web(db_client, db_app, ANONYMOUS)

    assert case_fields(db_app, reference) == case_fields(db_app, web_reference)
    case = case_of(db_app, "telegram", str(CHAT))
    assert case.anonymous and case.channel_address is None
    assert "Your secret code:" in fake_telegram.sent[-1]["text"]


# -- when the Bot API fails ------------------------------------------------------------------


def test_bot_api_failures_are_retried_with_growing_backoff_and_sent_once(
        db_app, db_client, fake_telegram, clock):
    post_update(db_client, message_update("/start"))
    deliver_all(db_app)
    post_update(db_client, message_update("no"))
    later = queue(db_app, "telegram", str(CHAT), {"method": "sendMessage", "text": "Later."})
    fake_telegram.fail_next(2, status=502)

    delays = []
    for attempt in (1, 2):
        started = clock.now
        assert services(db_app).outbox.deliver_due().retrying == 1
        head = outbox_rows(db_app)[-2]
        assert (head.status, head.attempts) == ("pending", attempt)
        delays.append(head.next_attempt_at - started)
        # Nothing overtakes the message that is retrying.
        assert deliver_all(db_app) == 0
        clock.now = head.next_attempt_at
    assert timedelta(0) < delays[0] < delays[1]

    deliver_all(db_app)

    texts = [message["text"] for message in fake_telegram.sent]
    assert texts[1:] == ["Who are you reporting as?", "Later."]
    rows = outbox_rows(db_app)
    assert [(row.status, row.attempts) for row in rows[-2:]] == [("sent", 3), ("sent", 1)]
    assert rows[-1].id == later


def test_a_flood_limit_waits_at_least_retry_after(db_app, db_client, fake_telegram, clock):
    post_update(db_client, message_update("/start"))
    deliver_all(db_app)
    post_update(db_client, message_update("no"))
    fake_telegram.rate_limit_next(1, retry_after=3)

    started = clock.now
    assert services(db_app).outbox.deliver_due().retrying == 1
    row = outbox_rows(db_app)[-1]
    assert row.next_attempt_at - started >= timedelta(seconds=3)

    clock.advance(seconds=2)
    assert deliver_all(db_app) == 0
    clock.now = row.next_attempt_at
    assert deliver_all(db_app) == 1
    assert [m["text"] for m in fake_telegram.sent][1:] == ["Who are you reporting as?"]


def test_messages_to_one_chat_are_paced_and_other_chats_do_not_wait(
        db_app, fake_telegram, pacing):
    for chat, text in ((CHAT, "one"), (CHAT, "two"), (OTHER_CHAT, "other")):
        queue(db_app, "telegram", str(chat), {"method": "sendMessage", "text": text})

    assert deliver_all(db_app) == 3

    assert [(m["chat_id"], m["text"]) for m in fake_telegram.sent] == [
        (CHAT, "one"), (OTHER_CHAT, "other"), (CHAT, "two")]
    # Only the second message to the same chat waited: one second, Telegram's pace.
    assert pacing.waits == [pytest.approx(1.0)]


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def telegram_env(tmp_path, data_key, fake_telegram, monkeypatch):
    monkeypatch.setenv("HATEREPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HATEREPORT_DATA_KEY", data_key)
    monkeypatch.setenv("HATEREPORT_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("HATEREPORT_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake_telegram.base_url)
    return tmp_path


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_set_webhook_registers_the_public_url_and_the_secret(telegram_env, fake_telegram):
    result = run("telegram", "--set-webhook")

    assert f"{PUBLIC_URL}/telegram" in result.output
    assert fake_telegram.webhook == {
        "url": f"{PUBLIC_URL}/telegram",
        "secret_token": WEBHOOK_SECRET,
        "allowed_updates": ["message", "callback_query"],
    }


def test_poll_once_applies_waiting_updates_and_delivers_the_reply(telegram_env,
                                                                  fake_telegram):
    run("telegram", "--set-webhook")
    fake_telegram.push_update(message_update("/start"))

    run("telegram", "--poll", "--once")

    assert fake_telegram.webhook is None  # polling needs the webhook gone
    [greeting] = fake_telegram.wait_for_sent(1, timeout=5)
    assert greeting["chat_id"] == CHAT
    assert greeting["text"].endswith("Are you in danger right now?")
    # The update was confirmed: a second run finds nothing to apply.
    run("telegram", "--poll", "--once")
    assert len(fake_telegram.sent) == 1


# -- confidentiality -----------------------------------------------------------------------------


def anonymous_report_with_canary(app, client, fake_telegram) -> None:
    script = dict(ANONYMOUS, description=f"My neighbour {CANARY} shouted at me.",
                  place=f"1 {CANARY} Road, Sinfin", outcome=f"{CANARY} to stop")
    assert drive_telegram(client, app, fake_telegram, script)
    assert any(CANARY in message["text"] for message in fake_telegram.sent)  # read back


def test_an_anonymous_telegram_report_leaves_no_chat_id_or_words_in_the_database(
        app, client, fake_telegram, tmp_path):
    anonymous_report_with_canary(app, client, fake_telegram)

    assert {row.status for row in outbox_rows(app)} == {"sent"}
    raw = raw_database(tmp_path, "app.db")
    for secret in (CANARY, str(CHAT)):
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret
    with services(app).sessions() as session:
        assert session.query(Conversation).count() == 1  # the app still reads it


def test_an_anonymous_telegram_report_leaves_no_chat_id_or_words_in_the_logs(
        app, client, fake_telegram, caplog):
    caplog.set_level(logging.DEBUG)

    anonymous_report_with_canary(app, client, fake_telegram)

    for secret in (CANARY, str(CHAT)):
        leaks = [f"{record.name}: {record.getMessage()[:120]}" for record in caplog.records
                 if secret in record.getMessage()]
        assert leaks == [], secret


def test_the_bot_token_is_never_logged(app, client, fake_telegram, caplog):
    caplog.set_level(logging.INFO)  # what `hatereport serve` logs

    post_update(client, message_update("/start"))
    deliver_all(app)

    assert fake_telegram.sent
    leaks = [f"{record.name}: {record.getMessage()[:120]}" for record in caplog.records
             if BOT_TOKEN in record.getMessage()]
    assert leaks == []


def test_a_button_of_an_earlier_question_is_not_taken_as_an_answer(app, client, fake_telegram):
    """Old keyboards stay on screen: a press on one must not answer today's question (here,
    the offer to carry on in Polish, whose own Yes means something else)."""
    post_update(client, message_update("/start"))
    deliver_all(app)
    safety_yes = dict(buttons(fake_telegram.sent[-1]))["Yes"]
    assert safety_yes == "safety|yes"
    post_update(client, message_update("Jacek mieszka obok mnie i krzyczy na mnie"))
    deliver_all(app)
    assert conversation_of(app, "telegram", str(CHAT)).mode == "confirm_language"

    post_update(client, button_update(safety_yes))
    deliver_all(app)

    conversation = conversation_of(app, "telegram", str(CHAT))
    assert conversation.locale == "en" and conversation.mode == "confirm_language"
    assert not conversation.urgent
    # The question waiting is asked again, with its own buttons.
    assert [data for _, data in buttons(fake_telegram.sent[-1])][0] == "confirm_language|yes"
