"""The web chat in a real browser: a whole report by mouse and by keyboard, the quick
exit, accessibility (axe-core), resuming after a reload, and what is kept on the device.

The walker does not know the questions: each turn it looks at the newest bot message
and its choice buttons, and answers with a choice or with typed text, so it follows
whatever path the backend takes until a reference like HR-XXXX-XXXX is shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"HR-[A-Z0-9]{4}-[A-Z0-9]{4}")
MAX_TURNS = 80
NOT_AN_ANSWER = {"skip", "/skip", "done", "/done"}


# ---------------------------------------------------------------- page helpers


def open_chat(page, live_server) -> None:
    """Load the chat and wait until the first question is on screen and idle."""
    page.goto(live_server.base_url + "/")
    wait_idle(page)
    assert page.locator("#chat-log .msg--bot").count() >= 1


def wait_idle(page) -> None:
    """Wait until no request is in flight (the log says aria-busy=false)."""
    page.wait_for_function(
        "() => { const log = document.getElementById('chat-log');"
        " return log && log.getAttribute('aria-busy') === 'false'; }"
    )


def bot_count(page) -> int:
    return page.locator("#chat-log .msg--bot").count()


def wait_for_reply(page, bots_before: int) -> None:
    """Wait for the answer to land: new bot text, or an error, with nothing in flight."""
    page.wait_for_function(
        "n => { const log = document.getElementById('chat-log');"
        " return log.getAttribute('aria-busy') === 'false' &&"
        " (log.querySelectorAll('.msg--bot').length > n ||"
        "  !document.getElementById('error').hidden ||"
        "  !document.getElementById('done-panel').hidden); }",
        arg=bots_before,
    )
    error = page.locator("#error")
    assert error.is_hidden(), (
        f"the chat showed an error: {page.locator('#error-text').text_content()}"
    )


def transcript(page) -> list[tuple[str, str]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#chat-log .msg')].map(m =>"
        " [m.classList.contains('msg--bot') ? 'bot' : 'user',"
        "  m.querySelector('.msg__text').textContent])"
    )


def current_question(page) -> str:
    """The bot's text since the user last spoke (the question now being asked)."""
    lines: list[str] = []
    for who, text in reversed(transcript(page)):
        if who != "bot":
            break
        lines.insert(0, text)
    return "\n".join(lines)


def choice_values(page) -> list[str]:
    return page.eval_on_selector_all(
        "#choices:not([hidden]) button:not([aria-disabled='true'])",
        "els => els.map(e => e.dataset.value)",
    )


def is_done(page) -> bool:
    return page.locator("#done-panel").is_visible()


def focused(page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, tag: e.tagName.toLowerCase(),"
        " value: e.dataset ? e.dataset.value : null,"
        " inChoices: !!e.closest('#choices')}; }"
    )


def storage(page) -> dict:
    return page.evaluate(
        "() => ({session: Object.assign({}, sessionStorage),"
        " local: Object.assign({}, localStorage)})"
    )


def axe_serious(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [", ".join(node.get("target", [])) for node in v.get("nodes", [])][:5]
        lines.append(f"[{v.get('impact')}] {v.get('id')}: {v.get('help')} at {targets}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the walker


@dataclass
class Walker:
    """Chooses an answer for each question; knows only general shapes of question."""

    #: Values to take whenever they are offered, to steer down another path.
    prefer: frozenset[str] = frozenset()
    picked_in_multi: bool = False
    asked: dict[str, int] = field(default_factory=dict)

    def choose(self, question: str, values: list[str]) -> str | None:
        """A choice value to click, or None to type text instead."""
        low = question.lower()
        if "submit" in values:
            return "submit"
        if "danger" in low and "no" in values:
            return "no"
        preferred = [v for v in values if v in self.prefer]
        if preferred:
            return preferred[0]
        if "done" in values:
            # A choose-several question: pick one thing, then Done.
            if self.picked_in_multi:
                self.picked_in_multi = False
                return "done"
            answers = [v for v in values if self._is_answer(v)]
            if answers:
                self.picked_in_multi = True
                return answers[0]
            return "done"
        self.picked_in_multi = False
        answers = [v for v in values if self._is_answer(v)]
        if answers:
            return answers[0]
        if values and self.asked.get(question, 0) >= 3:
            return values[0]  # typed answers keep being refused: take what is offered
        return None

    @staticmethod
    def _is_answer(value: str) -> bool:
        return not value.startswith("/") and value.lower() not in NOT_AN_ANSWER

    def text_for(self, question: str) -> str:
        last = question.lower().splitlines()[-1] if question else ""
        words = set(re.findall(r"[a-z]+", last))
        attempt = self.asked.get(question, 0)
        if words & {"phone", "email"}:
            options = ["sam@example.com", "07700 900123"]
        elif words & {"contact", "safe"}:
            options = ["Weekdays after 6pm", "Any time"]
        elif "name" in words:
            options = ["Sam", "Sam Taylor"]
        elif "reference" in words:
            options = ["CR/12345/24", "12345"]
        elif "when" in words:
            options = ["yesterday evening", "yesterday", "1 March 2024"]
        elif words & {"website", "app", "social", "online"}:
            options = ["Facebook", "Instagram"]
        elif words & {"address", "street", "estate", "place"}:
            options = ["Station Road", "Station Road, Leeds", "LS1 4AP"]
        elif "area" in words:
            options = ["City centre", "North"]
        elif "like" in words and "happen" in words:
            options = ["For it to stop and to feel safe at home."]
        else:
            options = [
                "A man from the next block shouted racist abuse at me outside my flat "
                "and said he would hurt me.",
                "Someone shouted abuse at me in the street.",
            ]
        return options[min(attempt, len(options) - 1)]

    def note(self, question: str) -> None:
        self.asked[question] = self.asked.get(question, 0) + 1
        if self.asked[question] > 6:
            raise AssertionError(f"the same question keeps coming back: {question!r}")


def walk_to_reference(page, *, keyboard: bool, prefer: frozenset[str] = frozenset()) -> str:
    """Answer every question until the report is sent; return the reference shown."""
    walker = Walker(prefer=prefer)
    for _turn in range(MAX_TURNS):
        if is_done(page):
            break
        question = current_question(page)
        values = choice_values(page)
        before = bot_count(page)
        choice = walker.choose(question, values)
        text = walker.text_for(question)
        walker.note(question)
        if keyboard:
            answer_by_keyboard(page, values, choice, text)
        elif choice is not None:
            page.locator(f"#choices button[data-value='{choice}']").click()
        else:
            page.locator("#message-input").fill(text)
            page.locator("#send").click()
        wait_for_reply(page, before)
        if keyboard and not is_done(page):
            assert_focus_on_answer(page)
    else:
        raise AssertionError(f"no reference after {MAX_TURNS} turns:\n{transcript(page)}")

    reference = page.locator("#done-reference").text_content() or ""
    assert REFERENCE.fullmatch(reference.strip()), f"reference shown is {reference!r}"
    assert page.locator("#done-reference").is_visible()
    assert page.locator("#composer").is_hidden(), "the text box should go once the report is sent"
    assert page.locator("#choices button").count() == 0
    assert page.locator("#new-report").is_visible()
    return reference.strip()


def assert_focus_on_answer(page) -> None:
    """After a reply, focus is on the first choice if there are choices, else the text box."""
    values = page.eval_on_selector_all(
        "#choices:not([hidden]) button", "els => els.map(e => e.dataset.value)"
    )
    now = focused(page)
    if values:
        assert now["inChoices"] and now["value"] == values[0], (
            f"focus is on {now}, not the first choice"
        )
    else:
        assert now["id"] == "message-input", f"focus is on {now}, not the text box"


def answer_by_keyboard(page, values: list[str], choice: str | None, text: str) -> None:
    if choice is not None:
        target = values.index(choice)
        for _ in range(target):
            page.keyboard.press("Tab")
        assert focused(page)["value"] == choice
        page.keyboard.press("Enter")
        return
    now = focused(page)
    if now["id"] != "message-input":
        # From the choices, Tab on past them to the text box.
        for _ in range(len(values) + 3):
            page.keyboard.press("Tab")
            if focused(page)["id"] == "message-input":
                break
    assert focused(page)["id"] == "message-input"
    page.keyboard.type(text)
    page.keyboard.press("Enter")


# ---------------------------------------------------------------- tests


def test_whole_report_by_mouse_and_typing(page, live_server, problems):
    open_chat(page, live_server)
    assert page.locator("#chat-log").get_attribute("role") == "log"
    assert page.locator("#chat-log").get_attribute("aria-live") == "polite"

    reference = walk_to_reference(page, keyboard=False)

    # The reference is also in the bot's messages, and is kept for a reload of the tab.
    assert any(reference in text for who, text in transcript(page) if who == "bot")
    saved = storage(page)["session"]
    assert list(saved) == ["hatereport.chat"]
    page.reload()
    page.wait_for_selector("#done-panel:not([hidden])")
    assert page.locator("#done-reference").text_content() == reference
    assert problems.errors == []
    assert problems.outside_requests == []

    # Starting again clears the old report away.
    page.locator("#new-report").click()
    wait_idle(page)
    assert page.locator("#done-panel").is_hidden()
    assert reference not in page.locator("#chat-log").inner_text()
    assert page.locator("#choices button").first.is_visible()
    first_choice = page.locator("#choices button").first
    assert first_choice.evaluate("e => e === document.activeElement")


def test_whole_report_by_keyboard_only(page, live_server, problems):
    open_chat(page, live_server)
    # Skip link first, then straight to the first answer.
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "a"
    page.keyboard.press("Enter")
    assert page.url.rstrip("/") == live_server.base_url, "the skip link must not change the address"
    page.keyboard.press("Tab")
    assert_focus_on_answer(page)

    # Another path than the mouse test: anonymous, and online (so a website question).
    walk_to_reference(page, keyboard=True, prefer=frozenset({"anonymous", "online"}))
    said = [text for who, text in transcript(page) if who == "user"]
    assert "Stay anonymous" in said and "Online" in said

    assert focused(page)["id"] == "done-heading"
    page.keyboard.press("Tab")
    # First the way to check on the report later (reference and code), then a new report.
    assert focused(page)["tag"] == "a"
    assert "/followup" in page.evaluate("() => document.activeElement.getAttribute('href')")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "new-report"
    assert problems.errors == []


def test_shift_enter_makes_a_new_line_and_enter_sends(page, live_server):
    open_chat(page, live_server)
    page.locator("#message-input").focus()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.locator("#message-input").input_value() == "first line\nsecond line"
    before = bot_count(page)
    page.keyboard.press("Enter")
    wait_for_reply(page, before)
    users = [text for who, text in transcript(page) if who == "user"]
    assert users[-1] == "first line\nsecond line"
    # Shown on two lines, not squashed into one.
    white_space = page.locator("#chat-log .msg--user .msg__text").last.evaluate(
        "e => getComputedStyle(e).whiteSpace"
    )
    assert white_space == "pre-wrap"


def test_commands_toolbar(page, live_server):
    open_chat(page, live_server)
    names = [b.inner_text().strip() for b in page.locator("#tools button").all()]
    commands = page.eval_on_selector_all("#tools button", "els => els.map(e => e.dataset.command)")
    assert names == ["Help", "Back", "Restart", "Change language", "Stop"]
    assert commands == ["/help", "/back", "/restart", "/language", "/stop"]
    before = bot_count(page)
    page.locator("#tools button[data-command='/help']").click()
    wait_for_reply(page, before)
    assert [t for w, t in transcript(page) if w == "user"][-1] == "Help"


def test_quick_exit_button(page, live_server):
    open_chat(page, live_server)
    exit_button = page.get_by_role("button", name="Exit this page")
    assert exit_button.get_attribute("data-url") == live_server.quick_exit_url
    assert page.get_by_text("Press Shift 3 times to leave quickly").is_visible()
    # Answer once so that there is something to forget.
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)
    assert storage(page)["session"]

    exit_button.click()
    page.wait_for_url(live_server.quick_exit_url)
    assert storage(page)["session"] == {}
    page.go_back()
    page.wait_for_load_state()
    assert page.url.rstrip("/") != live_server.base_url
    assert page.locator("#chat-log").count() == 0


def test_quick_exit_button_stays_on_screen(page, live_server):
    page.set_viewport_size({"width": 320, "height": 560})
    open_chat(page, live_server)
    page.mouse.wheel(0, 5000)
    page.wait_for_function("() => window.scrollY > 0")
    box = page.get_by_role("button", name="Exit this page").bounding_box()
    assert box is not None and 0 <= box["y"] < 80


def test_quick_exit_by_pressing_shift_three_times(page, live_server):
    open_chat(page, live_server)
    page.locator("#message-input").focus()
    # Shift used for typing capitals is not a quick exit.
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.keyboard.press("Shift+KeyA")
    page.keyboard.press("Shift")
    assert page.locator("#chat-log").is_visible()
    assert page.url.rstrip("/") == live_server.base_url

    page.keyboard.type("x")  # any other key starts the count again
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert page.url.rstrip("/") == live_server.base_url
    page.keyboard.press("Shift")
    page.wait_for_url(live_server.quick_exit_url)
    assert storage(page)["session"] == {}
    page.go_back()
    page.wait_for_load_state()
    assert page.locator("#chat-log").count() == 0


@pytest.mark.parametrize("width", [1024, 320])
def test_no_serious_accessibility_problems(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 720})
    open_chat(page, live_server)
    violations = axe_serious(page)
    assert not violations, "on the first question:\n" + describe(violations)

    # A couple of turns in: a choice answered, then a typed answer or another choice.
    walker = Walker()
    for _ in range(3):
        question, values = current_question(page), choice_values(page)
        before = bot_count(page)
        choice = walker.choose(question, values)
        if choice is not None:
            page.locator(f"#choices button[data-value='{choice}']").click()
        else:
            page.locator("#message-input").fill(walker.text_for(question))
            page.locator("#send").click()
        wait_for_reply(page, before)
    violations = axe_serious(page)
    assert not violations, "after a few turns:\n" + describe(violations)

    # Nothing sideways-scrolls on a phone.
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_accessibility_once_the_report_is_sent(page, live_server):
    open_chat(page, live_server)
    walk_to_reference(page, keyboard=False)
    violations = axe_serious(page)
    assert not violations, "on the sent page:\n" + describe(violations)


def test_reload_resumes_the_conversation(page, live_server):
    open_chat(page, live_server)
    walker = Walker()
    for _ in range(2):
        question, values = current_question(page), choice_values(page)
        before = bot_count(page)
        choice = walker.choose(question, values)
        assert choice is not None, f"expected choices for {question!r}"
        page.locator(f"#choices button[data-value='{choice}']").click()
        wait_for_reply(page, before)
    said = transcript(page)
    question = current_question(page)
    values = choice_values(page)
    conversation = storage(page)["session"]["hatereport.chat"]

    page.reload()
    wait_idle(page)
    assert transcript(page) == said, "the transcript should come back exactly, once"
    assert current_question(page) == question
    assert choice_values(page) == values
    assert storage(page)["session"]["hatereport.chat"] == conversation


def test_unknown_conversation_starts_afresh(page, live_server):
    page.goto(live_server.base_url + "/static/chat.css")
    # Well-formed, but unknown to the server (as after it expired).
    stale = {
        "conversation": "AbCdEfGhIjKlMnOpQrStUv",
        "transcript": [{"from": "bot", "text": "An old question"}],
        "done": False,
        "reference": None,
    }
    page.evaluate("s => sessionStorage.setItem('hatereport.chat', JSON.stringify(s))", stale)
    page.goto(live_server.base_url + "/")
    page.wait_for_function(
        "() => JSON.parse(sessionStorage.getItem('hatereport.chat') || '{}').conversation"
        " && JSON.parse(sessionStorage.getItem('hatereport.chat')).conversation"
        " !== 'AbCdEfGhIjKlMnOpQrStUv'"
    )
    wait_idle(page)
    assert "An old question" not in page.locator("#chat-log").inner_text()
    assert choice_values(page), "a new conversation should be asking its first question"


def test_failed_send_keeps_the_typed_text(page, live_server):
    open_chat(page, live_server)
    page.route(
        "**/api/chat/*",
        lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
    )
    page.locator("#message-input").fill("Please keep this")
    page.locator("#send").click()
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#message-input").input_value() == "Please keep this"
    assert page.locator("#chat-log .msg--user").count() == 0
    assert page.get_by_role("button", name="Try again").is_visible()

    page.unroute("**/api/chat/*")
    before = bot_count(page)
    page.get_by_role("button", name="Try again").click()
    wait_for_reply(page, before)
    assert page.locator("#error").is_hidden()
    assert [t for w, t in transcript(page) if w == "user"][-1] == "Please keep this"
    assert page.locator("#message-input").input_value() == ""


def test_only_session_storage_no_cookies_no_local_storage(page, context, live_server, problems):
    open_chat(page, live_server)
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)
    assert context.cookies() == []
    kept = storage(page)
    assert kept["local"] == {}
    assert list(kept["session"]) == ["hatereport.chat"]
    assert problems.outside_requests == []
    assert problems.errors == []


def test_server_text_is_never_markup(page, live_server):
    open_chat(page, live_server)
    page.route(
        "**/api/chat/*",
        lambda route: (
            route.fulfill(
                status=200,
                content_type="application/json",
                body=json.dumps(
                    {
                        "messages": [
                            {
                                "text": "<img src=x id=evil>\nline two",
                                "choices": [{"label": "<b>bold</b>", "value": "x"}],
                            }
                        ],
                        "done": False,
                        "reference": None,
                    }
                ),
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    before = bot_count(page)
    page.locator("#message-input").fill("hello")
    page.locator("#send").click()
    wait_for_reply(page, before)
    assert page.locator("#evil").count() == 0
    assert page.locator("#chat-log b, #choices b").count() == 0
    assert current_question(page) == "<img src=x id=evil>\nline two"
    assert page.locator("#choices button").inner_text() == "<b>bold</b>"


def test_focus_is_never_hidden_under_the_exit_bar(page, live_server):
    """WCAG 2.4.11: tabbing backwards up a scrolled page on a phone, the sticky exit bar
    never covers the control that has focus (and Shift+Tab is not a quick exit)."""
    page.set_viewport_size({"width": 320, "height": 480})
    open_chat(page, live_server)
    page.locator("#tools button").last.focus()
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    seen = 0
    for _ in range(30):
        page.keyboard.press("Shift+Tab")
        info = page.evaluate(
            "() => { const e = document.activeElement; const r = e.getBoundingClientRect();"
            " const bar = document.querySelector('.exit-bar').getBoundingClientRect();"
            " return {id: e.id, cls: e.className, top: r.top, bottom: r.bottom,"
            " barBottom: bar.bottom, inBar: !!e.closest('.exit-bar'), height: innerHeight}; }"
        )
        if info["inBar"] or "skip-link" in info["cls"]:
            break
        if info["id"] == "conversation":
            continue
        seen += 1
        assert info["top"] >= info["barBottom"] - 1, f"focus is under the exit bar: {info}"
        assert info["bottom"] <= info["height"] + 1, f"focus is off the screen: {info}"
    assert seen >= 5
    assert page.url.rstrip("/") == live_server.base_url


def test_a_double_click_sends_once(page, live_server):
    open_chat(page, live_server)
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").dblclick()
    wait_for_reply(page, before)
    wait_idle(page)
    assert [w for w, _ in transcript(page)].count("user") == 1


def test_quick_exit_empties_the_page_before_the_next_one_loads(page, live_server):
    open_chat(page, live_server)
    held = []
    # Hold the exit page's request, so the chat page is still the document in the tab.
    page.route(live_server.quick_exit_url, lambda route: held.append(route))
    # Click and look in one go: while the navigation is held, Playwright cannot evaluate.
    left = page.evaluate(
        "() => { document.getElementById('quick-exit').click();"
        " return {body: document.body === null,"
        " children: document.documentElement.childElementCount,"
        " stored: sessionStorage.length, title: document.title}; }"
    )
    assert left == {"body": True, "children": 0, "stored": 0, "title": ""}
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the exit page was never asked for"
    held[0].continue_()
    page.wait_for_url(live_server.quick_exit_url)
