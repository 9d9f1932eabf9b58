"""The web chat in other languages, in a real browser: whole reports in Arabic (right to
left) and Polish, changing language mid-way with the "Change language" button or by
writing in another language, and axe-core on the Arabic page.

The page follows the conversation's language: whenever the server says the conversation
is in another language than the page's, the page loads itself again as ``/?lang=<code>``
and resumes. So after any answer the page may be a new document: ``wait_for_language``
waits for that before looking.

Screenshots for the docs (chat-ar.png, chat-pl.png: a phone, 390x844; chat-ar-desktop.png)
are written to docs/screenshots/ only when asked for, with
``HATEREPORT_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_languages.py``;
otherwise to a temporary folder, so that a test run on a machine with other fonts leaves
the committed pictures alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from intake.flow import STEPS
from intake.i18n import gettext
from intake.languages import get_language
from tests.browser.test_chat import (
    MAX_TURNS,
    REFERENCE,
    Walker,
    axe_serious,
    bot_count,
    choice_values,
    current_question,
    describe,
    is_done,
    storage,
    transcript,
    wait_for_reply,
    wait_idle,
)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1024, "height": 800}
FIRST_QUESTION = "Are you in danger right now?"
PROMPTS = {step.id: step.prompt for step in STEPS}

#: What a reporter types at each free-text question, per language.
TYPED: dict[str, dict[str, str]] = {
    "ar": {
        "name": "سامي",
        "description": "صرخ جاري في وجهي وهددني أمام منزلي.",
        "when": "أمس",
        "place": "شارع المحطة",
        "platform": "فيسبوك",
        "crime_reference": "CR/12345/24",
        "outcome": "أريد أن يتوقف ذلك وأن أشعر بالأمان في منزلي.",
    },
    "pl": {
        "name": "Sam",
        "description": "Sąsiad krzyczał na mnie i groził mi przed moim domem.",
        "when": "wczoraj",
        "place": "ulica Dworcowa",
        "platform": "Facebook",
        "crime_reference": "CR/12345/24",
        "outcome": "Chcę, żeby to się skończyło i żebym czuł się bezpiecznie w domu.",
    },
}


# ---------------------------------------------------------------- page helpers


def open_in(page, live_server, code: str) -> None:
    """Load the chat at /?lang=<code> and wait for its first question."""
    page.goto(f"{live_server.base_url}/?lang={code}")
    wait_idle(page)
    assert bot_count(page) >= 1


def page_language(page) -> dict[str, str]:
    return page.evaluate(
        "() => ({lang: document.documentElement.lang, dir: document.documentElement.dir})"
    )


def assert_page_in(page, code: str) -> None:
    language = get_language(code)
    assert page_language(page) == {"lang": code, "dir": language.direction}
    # The page's own words too, not only the bot's.
    send = page.locator("#send").inner_text().strip()
    assert send == gettext(code, "Send"), f"the Send button says {send!r}"


def wait_for_language(page, code: str) -> None:
    """Wait until the page has loaded itself again in ``code`` and resumed."""
    page.wait_for_url(re.compile(rf"[?&]lang={re.escape(code)}(&|$)"))
    page.wait_for_function(f"() => document.documentElement.lang === {code!r}")
    wait_idle(page)


def box(page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not on screen"
    return found


def right(b: dict[str, float]) -> float:
    return b["x"] + b["width"]


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """A full-page picture, in docs/screenshots/ if HATEREPORT_SCREENSHOTS=1."""
    folder = SCREENSHOTS if os.environ.get("HATEREPORT_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    # No caret, pulse, hover or focus ring, and the sticky exit bar at the top, where a
    # reader first sees it: the same picture each time.
    page.mouse.move(0, 0)
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur();"
        " window.scrollTo(0, 0); }"
    )
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    assert path.stat().st_size > 10_000
    return path


# ---------------------------------------------------------------- the walker


@dataclass
class LanguageWalker(Walker):
    """The walker of test_chat, knowing the questions by their translated text."""

    code: str = "en"

    def step_of(self, question: str) -> str | None:
        """The flow step whose (translated) question is being asked."""
        for step_id, prompt in PROMPTS.items():
            if gettext(self.code, prompt) in question:
                return step_id
        return None

    def choose(self, question: str, values: list[str]) -> str | None:
        if "keep" in values:
            return "keep"  # "continue in another language?": no, stay in this one
        if self.step_of(question) == "safety" and "no" in values:
            return "no"
        return super().choose(question, values)

    def text_for(self, question: str) -> str:
        typed = TYPED[self.code]
        step_id = self.step_of(question)
        return typed.get(step_id or "", typed["description"])


def walk_in(page, code: str, prefer: frozenset[str] = frozenset()) -> str:
    """Answer by clicking (and typing where asked) until the reference shows; the page
    stays in ``code`` all the way."""
    walker = LanguageWalker(prefer=prefer, code=code)
    for _turn in range(MAX_TURNS):
        assert_page_in(page, code)
        if is_done(page):
            break
        question = current_question(page)
        values = choice_values(page)
        choice = walker.choose(question, values)
        walker.note(question)
        before = bot_count(page)
        if choice is not None:
            page.locator(f"#choices button[data-value='{choice}']").click()
        else:
            page.locator("#message-input").fill(walker.text_for(question))
            page.locator("#send").click()
        wait_for_reply(page, before)
    else:
        raise AssertionError(f"no reference after {MAX_TURNS} turns:\n{transcript(page)}")
    assert_page_in(page, code)
    reference = (page.locator("#done-reference").text_content() or "").strip()
    assert REFERENCE.fullmatch(reference), f"reference shown is {reference!r}"
    assert page.locator("#done-heading").inner_text() == gettext(code, "Your report has been sent")
    return reference


def answer_a_few(page, code: str) -> None:
    """Not in danger, it happened to me, anonymous, then what happened in own words."""
    walker = LanguageWalker(code=code, prefer=frozenset({"anonymous"}))
    for _ in range(4):
        question, values = current_question(page), choice_values(page)
        choice = walker.choose(question, values)
        before = bot_count(page)
        if choice is not None:
            page.locator(f"#choices button[data-value='{choice}']").click()
        else:
            page.locator("#message-input").fill(walker.text_for(question))
            page.locator("#send").click()
        wait_for_reply(page, before)
        assert_page_in(page, code)


def assert_first_question_in(page, code: str) -> None:
    assert gettext(code, FIRST_QUESTION) != FIRST_QUESTION, f"{code} is not translated"
    bots = [text for who, text in transcript(page) if who == "bot"]
    assert bots[-1] == gettext(code, FIRST_QUESTION)
    labels = page.eval_on_selector_all("#choices button", "els => els.map(e => e.innerText)")
    assert labels == [gettext(code, "Yes"), gettext(code, "No")]


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("code", ["ar", "pl"])
def test_whole_report_in_another_language(page, live_server, problems, tmp_path, code):
    fonts: list[str] = []
    page.on("request", lambda r: fonts.append(r.url) if r.resource_type == "font" else None)
    page.set_viewport_size(PHONE)
    open_in(page, live_server, code)
    assert_page_in(page, code)
    assert page.title() == gettext(code, "Report a hate crime or hate incident")
    assert_first_question_in(page, code)

    # A few turns in, with the text box and choices on screen: the picture for the docs.
    answer_a_few(page, code)
    said = [text for who, text in transcript(page) if who == "user"]
    assert TYPED[code]["description"] in said
    screenshot(page, f"chat-{code}.png", tmp_path)

    reference = walk_in(page, code, prefer=frozenset({"anonymous", "online"}))
    assert any(reference in text for who, text in transcript(page) if who == "bot")

    # System fonts only: nothing downloaded, nothing declared with @font-face.
    assert fonts == []
    assert page.evaluate("() => document.fonts.size") == 0
    assert problems.errors == []
    assert problems.outside_requests == []
    assert list(storage(page)["session"]) == ["hatereport.chat"]
    assert storage(page)["local"] == {}


def test_arabic_desktop_screenshot(page, live_server, tmp_path):
    page.set_viewport_size(DESKTOP)
    open_in(page, live_server, "ar")
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)
    screenshot(page, "chat-ar-desktop.png", tmp_path)


@pytest.mark.parametrize("code", ["ar", "pl"])
def test_layout_follows_the_direction(page, live_server, code):
    page.set_viewport_size(DESKTOP)
    open_in(page, live_server, code)
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)

    log = box(page, "#chat-log")
    bot = box(page, "#chat-log .msg--bot >> nth=-1")
    user = box(page, "#chat-log .msg--user >> nth=-1")
    text_box = box(page, "#message-input")
    send = box(page, "#send")
    first_choice = box(page, "#choices button >> nth=0")
    middle = log["x"] + log["width"] / 2
    if get_language(code).direction == "rtl":
        # Mirrored: the bot speaks from the right, the reporter from the left, and Send
        # is at the inline end of the text box, which is its left.
        assert abs(right(bot) - right(log)) <= 1 and bot["x"] > log["x"] + 1
        assert abs(user["x"] - log["x"]) <= 1 and right(user) < middle
        assert right(send) <= text_box["x"]
        assert abs(right(first_choice) - right(log)) <= 1
    else:
        assert abs(bot["x"] - log["x"]) <= 1 and right(bot) < right(log) - 1
        assert abs(right(user) - right(log)) <= 1 and user["x"] > middle
        assert send["x"] >= right(text_box)
        assert abs(first_choice["x"] - log["x"]) <= 1
    align = page.locator("#chat-log .msg--bot .msg__text >> nth=-1").evaluate(
        "e => [getComputedStyle(e).direction, getComputedStyle(e).textAlign]"
    )
    assert align == [get_language(code).direction, "start"]
    families = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    if code == "ar":
        assert families.index("Noto Naskh Arabic") < families.index("sans-serif")
    assert families.endswith("sans-serif")


def test_no_serious_accessibility_problems_in_arabic(page, live_server):
    page.set_viewport_size(PHONE)
    open_in(page, live_server, "ar")
    violations = axe_serious(page)
    assert not violations, "on the first question:\n" + describe(violations)

    answer_a_few(page, "ar")
    violations = axe_serious(page)
    assert not violations, "after a few turns:\n" + describe(violations)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_change_language_mid_conversation(page, live_server, problems):
    page.goto(live_server.base_url + "/")
    wait_idle(page)
    assert_page_in(page, "en")
    for value in ("no", "victim"):
        before = bot_count(page)
        page.locator(f"#choices button[data-value='{value}']").click()
        wait_for_reply(page, before)
    asked = PROMPTS["anonymous"]
    assert current_question(page).endswith(asked)
    said_before = transcript(page)
    history = page.evaluate("() => history.length")

    before = bot_count(page)
    page.locator("#tools button[data-command='/language']").click()
    wait_for_reply(page, before)
    assert current_question(page) == "Choose your language."
    assert page.locator("#choices button[data-value='pl']").inner_text() == "Polski"
    # Each language's name is shown in its own script and direction.
    arabic = page.locator("#choices button[data-value='ar'] span")
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"

    page.locator("#choices button[data-value='pl']").click()
    wait_for_language(page, "pl")
    assert_page_in(page, "pl")
    assert page.locator("#tools button[data-command='/language']").inner_text().strip() == (
        gettext("pl", "Change language")
    )

    # Everything said is still there, once, followed by the switch and the same question
    # now asked in Polish.
    after = transcript(page)
    assert after[: len(said_before)] == said_before
    assert after[len(said_before):] == [
        ["user", "Change language"],
        ["bot", "Choose your language."],
        ["user", "Polski"],
        ["bot", gettext("pl", "OK, we will continue in %(language)s.", language="Polski")],
        ["bot", gettext("pl", asked)],
    ]
    assert choice_values(page) == ["named", "anonymous"]
    # The English lines keep their language for screen readers; the new ones take the page's.
    langs = page.eval_on_selector_all(
        "#chat-log .msg--bot .msg__text", "els => els.map(e => e.getAttribute('lang'))"
    )
    assert langs[: -2] == ["en"] * (len(langs) - 2) and langs[-2:] == [None, None]
    # The reporter's next step is where they were: focus on the first answer.
    assert page.evaluate("() => document.activeElement.dataset.value") == "named"
    # The switch replaced the page, it did not add to the history (Back after the quick
    # exit must not lead back here).
    assert page.evaluate("() => history.length") == history

    # The answers given in English were kept: the review lists them, in Polish.
    walk_in(page, "pl", prefer=frozenset({"anonymous", "online"}))
    summary = "\n".join(text for who, text in transcript(page) if who == "bot")
    assert gettext("pl", "It happened to me") in summary
    assert list(storage(page)["session"]) == ["hatereport.chat"]

    # Opening the plain address again comes back to the conversation's language.
    page.goto(live_server.base_url + "/")
    wait_for_language(page, "pl")
    assert page.locator("#done-panel").is_visible()
    assert problems.errors == []
    assert problems.outside_requests == []


def test_writing_in_another_language_offers_it(page, live_server, problems):
    page.goto(live_server.base_url + "/")
    wait_idle(page)
    assert_page_in(page, "en")
    before = bot_count(page)
    page.locator("#message-input").fill("Nie, ale sąsiad krzyczy na mnie codziennie")
    page.locator("#send").click()
    wait_for_reply(page, before)

    # Asked in Polish, on the English page, whether to carry on in Polish.
    assert_page_in(page, "en")
    offer = gettext("pl", "Would you like to continue in %(language)s?", language="Polski")
    assert offer != "Would you like to continue in Polski?", "not translated yet"
    assert current_question(page) == offer
    assert choice_values(page)[0] == "yes"
    assert page.locator("#choices button[data-value='yes']").inner_text() == gettext("pl", "Yes")

    page.locator("#choices button[data-value='yes']").click()
    wait_for_language(page, "pl")
    assert_page_in(page, "pl")
    assert_first_question_in(page, "pl")
    users = [text for who, text in transcript(page) if who == "user"]
    assert users == ["Nie, ale sąsiad krzyczy na mnie codziennie", gettext("pl", "Yes")]
    # What the reporter typed is shown in its own direction, whatever the page's.
    assert page.locator("#chat-log .msg--user .msg__text >> nth=0").get_attribute("dir") == "auto"

    # And the conversation goes on in Polish.
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)
    assert current_question(page).endswith(gettext("pl", PROMPTS["role"]))
    assert_page_in(page, "pl")
    assert problems.errors == []


def test_reload_keeps_the_language(page, live_server):
    open_in(page, live_server, "ar")
    before = bot_count(page)
    page.locator("#choices button[data-value='no']").click()
    wait_for_reply(page, before)
    said = transcript(page)
    page.reload()
    wait_idle(page)
    assert_page_in(page, "ar")
    assert transcript(page) == said
    assert current_question(page).endswith(gettext("ar", PROMPTS["role"]))


def test_unknown_language_falls_back_to_english(page, live_server):
    open_in(page, live_server, "xx")
    assert_page_in(page, "en")
    assert [text for who, text in transcript(page) if who == "bot"][-1] == FIRST_QUESTION
    assert page.url.endswith("?lang=xx"), "no loop of reloads"
