"""The fakes, driven by the real provider libraries: twilio's Client and PTB's Bot."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import telegram
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

SID = "AC" + "0" * 32
AUTH = "secret-auth-token"
TOKEN = "123456:TEST-token"
CHAT = 4242


class LocalTwilioHttpClient(TwilioHttpClient):
    """Sends what the twilio Client addresses to *.twilio.com to a local base URL instead."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith(".twilio.com"):
            local = urlsplit(self.base_url)
            url = urlunsplit((local.scheme, local.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def twilio_client(fake: FakeTwilio, token: str = AUTH, timeout: float | None = None) -> Client:
    return Client(SID, token, http_client=LocalTwilioHttpClient(fake.base_url, timeout=timeout))


# -- Twilio ----------------------------------------------------------------------------------


def test_twilio_create_and_fetch_message() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        client = twilio_client(fake)
        msg = client.messages.create(to="+447700900001", from_="+447700900999", body="Hello")
        assert msg.sid is not None and msg.sid.startswith("SM") and len(msg.sid) == 34
        assert (msg.status, msg.to, msg.from_, msg.body) == (
            "queued",
            "+447700900001",
            "+447700900999",
            "Hello",
        )
        assert msg.num_segments == "1" and msg.date_created is not None
        assert fake.messages == [
            {
                "to": "+447700900001",
                "from_": "+447700900999",
                "messaging_service_sid": None,
                "body": "Hello",
                "status_callback": None,
                "sid": msg.sid,
            }
        ]
        fetched = client.messages(msg.sid).fetch()
        assert (fetched.sid, fetched.body) == (msg.sid, "Hello")


def test_twilio_messaging_service_and_status_callback_are_recorded() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        twilio_client(fake).messages.create(
            to="+447700900001",
            messaging_service_sid="MG" + "1" * 32,
            body="x" * 200,
            status_callback="https://example.test/status",
        )
        [sent] = fake.wait_for(1, timeout=2)
        assert sent["messaging_service_sid"] == "MG" + "1" * 32 and sent["from_"] is None
        assert sent["status_callback"] == "https://example.test/status"


def test_twilio_wrong_credentials_are_401() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        with pytest.raises(TwilioRestException) as err:
            twilio_client(fake, token="wrong").messages.create(to="+1", from_="+2", body="x")
        assert (err.value.status, err.value.code) == (401, 20003)
        assert fake.messages == []


def test_twilio_injected_failure_then_success() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        client = twilio_client(fake)
        fake.fail_next(1, status=503)
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to="+1", from_="+2", body="first")
        assert err.value.status == 503
        assert fake.messages == []
        client.messages.create(to="+1", from_="+2", body="second")
        assert [m["body"] for m in fake.messages] == ["second"]


def test_twilio_missing_body_is_rejected_like_twilio() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        with pytest.raises(TwilioRestException) as err:
            twilio_client(fake).messages.create(to="+1", from_="+2")
        assert (err.value.status, err.value.code) == (400, 21602)


def test_twilio_delay_times_out_the_client_but_can_still_deliver() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        fake.delay_next(1, seconds=5, deliver=True)
        with pytest.raises(requests.exceptions.Timeout):  # twilio does not wrap it
            twilio_client(fake, timeout=0.3).messages.create(to="+1", from_="+2", body="late")
        assert [m["body"] for m in fake.wait_for(1, timeout=2)] == ["late"]

        fake.delay_next(1, seconds=5, deliver=False)
        with pytest.raises(requests.exceptions.Timeout):
            twilio_client(fake, timeout=0.3).messages.create(to="+1", from_="+2", body="lost")
        assert len(fake.messages) == 1


def test_twilio_refuse_and_accept_on_the_same_port() -> None:
    with FakeTwilio(SID, AUTH) as fake:
        url = fake.base_url
        fake.refuse()
        with pytest.raises(requests.exceptions.ConnectionError):
            twilio_client(fake).messages.create(to="+1", from_="+2", body="x")
        fake.accept()
        assert fake.base_url == url
        twilio_client(fake).messages.create(to="+1", from_="+2", body="y")
        assert [m["body"] for m in fake.messages] == ["y"]


def test_twilio_wait_for_times_out() -> None:
    with FakeTwilio(SID, AUTH) as fake, pytest.raises(TimeoutError):
        fake.wait_for(1, timeout=0.1)


# -- Telegram --------------------------------------------------------------------------------


def bot(fake: FakeTelegram, token: str = TOKEN) -> telegram.Bot:
    return telegram.Bot(token, base_url=f"{fake.base_url}/bot")


def keyboard() -> telegram.InlineKeyboardMarkup:
    return telegram.InlineKeyboardMarkup(
        [
            [
                telegram.InlineKeyboardButton("Yes", callback_data="yes"),
                telegram.InlineKeyboardButton("No", callback_data="no"),
            ]
        ]
    )


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps an event
    loop on the main thread for the whole session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_telegram_get_me_and_send_message_with_keyboard() -> None:
    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            me = await b.get_me()
            assert me.is_bot and me.id == 123456
            first = await b.send_message(CHAT, "Hello", reply_markup=keyboard())
            second = await b.send_message(CHAT, "Again")
            assert (first.message_id, second.message_id) == (1, 2)
            assert first.chat.id == CHAT and first.text == "Hello"
            assert first.reply_markup == keyboard()

    with FakeTelegram(TOKEN) as fake:
        run_async(scenario(fake))
        first, second = fake.sent
        assert (first["chat_id"], first["text"], second["reply_markup"]) == (CHAT, "Hello", None)
        assert first["reply_markup"] == {
            "inline_keyboard": [
                [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
            ]
        }
        assert first["at"] <= second["at"]
        assert [m for m, _ in fake.calls] == ["getMe", "getMe", "sendMessage", "sendMessage"]


def test_telegram_callback_answer_and_keyboard_edit() -> None:
    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            sent = await b.send_message(CHAT, "Pick", reply_markup=keyboard())
            assert await b.answer_callback_query("cbq-1", text="Thanks")
            edited = await b.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
            assert isinstance(edited, telegram.Message) and edited.reply_markup is None
            with pytest.raises(BadRequest, match="not modified"):
                await b.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)

    with FakeTelegram(TOKEN) as fake:
        run_async(scenario(fake))
        assert ("answerCallbackQuery", {"callback_query_id": "cbq-1", "text": "Thanks"}) in (
            fake.calls
        )


def test_telegram_webhook_and_get_updates() -> None:
    update = {
        "message": {
            "message_id": 7,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "R"},
            "text": "hi",
        }
    }

    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            assert await b.set_webhook(
                "https://example.test/tg",
                secret_token="s3cret",
                allowed_updates=["message", "callback_query"],
            )
            info = await b.get_webhook_info()
            assert info.url == "https://example.test/tg" and info.pending_update_count == 1
            assert await b.delete_webhook()
            [got] = await b.get_updates()
            assert got.update_id == 1 and got.message is not None and got.message.text == "hi"
            assert await b.get_updates(offset=got.update_id + 1) == ()
            threading.Timer(0.2, fake.push_update, [update]).start()
            [late] = await b.get_updates(offset=got.update_id + 1, timeout=10)
            assert late.update_id == 2

    with FakeTelegram(TOKEN) as fake:
        fake.push_update(update)
        run_async(scenario(fake))
        assert (
            "setWebhook",
            {
                "url": "https://example.test/tg",
                "secret_token": "s3cret",
                "allowed_updates": ["message", "callback_query"],
            },
        ) in fake.calls


def test_telegram_faults_map_to_ptb_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without PTB_TIMEDELTA, PTB 22 warns (PTBDeprecationWarning) whenever RetryAfter is built.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")

    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            fake.rate_limit_next(1, retry_after=3)
            with pytest.raises(RetryAfter) as limited:
                await b.send_message(CHAT, "a")
            assert limited.value.retry_after == timedelta(seconds=3)
            fake.fail_next(1, status=502)
            with pytest.raises(NetworkError) as failed:
                await b.send_message(CHAT, "b")
            assert not isinstance(failed.value, RetryAfter)
            await b.send_message(CHAT, "c")

    with FakeTelegram(TOKEN) as fake:
        run_async(scenario(fake))
        assert [m["text"] for m in fake.sent] == ["c"]


def test_telegram_delay_times_out_and_refuse_is_a_network_error() -> None:
    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            fake.delay_next(1, seconds=5, deliver=True)
            with pytest.raises(TimedOut):
                await b.send_message(CHAT, "late", read_timeout=0.3)
            fake.refuse()
            with pytest.raises(NetworkError):
                await b.send_message(CHAT, "refused")
            fake.accept()
            await b.send_message(CHAT, "back")

    with FakeTelegram(TOKEN) as fake:
        run_async(scenario(fake))
        assert [m["text"] for m in fake.wait_for_sent(2, timeout=2)] == ["late", "back"]


def test_telegram_wrong_token_is_invalid() -> None:
    async def scenario(fake: FakeTelegram) -> None:
        with pytest.raises(InvalidToken):
            await bot(fake, token="999:wrong").get_me()

    with FakeTelegram(TOKEN) as fake:
        run_async(scenario(fake))


def test_telegram_accepts_json_bodies_and_query_strings() -> None:
    def call(path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            fake.base_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    with FakeTelegram(TOKEN) as fake:
        markup = {"inline_keyboard": [[{"text": "Ok", "callback_data": "ok"}]]}
        status, answer = call(
            f"/bot{TOKEN}/sendMessage", {"chat_id": CHAT, "text": "123", "reply_markup": markup}
        )
        assert status == 200 and answer["result"]["reply_markup"] == markup
        status, answer = call(f"/bot{TOKEN}/sendMessage?chat_id={CHAT}&text=true")
        assert status == 200 and answer["result"]["text"] == "true"
        assert [(m["text"], m["chat_id"]) for m in fake.sent] == [("123", CHAT), ("true", CHAT)]
        assert call(f"/bot{TOKEN}/noSuchMethod")[0] == 404
        assert call("/botwrong/getMe") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
