/*
 * Hate Report web chat.
 *
 * Talks to the same-origin JSON API (/api/chat). The only thing kept on the
 * device is the conversation id and the transcript, in sessionStorage under
 * STORAGE_KEY, so a reload of the tab resumes; closing the tab or using
 * "Exit this page" forgets it. No cookies, no localStorage, no third parties.
 *
 * Server text is only ever put into the page with textContent.
 *
 * The page follows the conversation's language: every reply says which language the
 * conversation is in, and when that is not the page's (<html lang>), the transcript is
 * saved and the page is loaded again as /?lang=<code>, so every word on it, not only
 * the bot's, is in that language and direction. The new page resumes the conversation
 * the way a reload does.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "hatereport.chat";
  var SHIFT_PRESSES = 3;          // presses of Shift in a row that trigger the quick exit
  var SHIFT_WINDOW_MS = 3000;     // ...all within this long of the first one
  var REQUEST_TIMEOUT_MS = 30000;
  var LANGUAGE_CODE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

  var el = {};
  var str = {};
  var state = emptyState();
  var busy = false;
  var inFlight = null;            // AbortController of the current request
  var messageCounter = 0;
  var exiting = false;
  var pageLang = "";              // the language the page was rendered in (<html lang>)
  var askedLang = null;           // the ?lang= the page was asked for, if any
  var switching = false;          // leaving to show the page in another language

  function emptyState() {
    // language: the conversation's, as the server last said (a finished conversation is
    // drawn from here without asking the server, and must still follow it).
    return { conversation: null, transcript: [], done: false, reference: null, language: null };
  }

  /* ---------- quick exit ---------- */

  function quickExit(event) {
    if (event) { event.preventDefault(); }
    if (exiting) { return; }
    exiting = true;
    var button = document.getElementById("quick-exit");
    var url = (button && button.getAttribute("data-url")) || "about:blank";
    try { window.sessionStorage.clear(); } catch (e) { /* storage may be unavailable */ }
    if (inFlight) { try { inFlight.abort(); } catch (e) { /* ignore */ } }
    // Empty the page at once, so nothing is left on screen while the next page loads.
    try {
      document.title = "";
      var root = document.documentElement;
      while (root.firstChild) { root.removeChild(root.firstChild); }
    } catch (e) { /* keep going: leaving matters more */ }
    // replace(): the chat is not left in the history, so Back does not return to it.
    window.location.replace(url);
  }

  /*
   * A "press" of Shift is a tap: Shift down and up again with no other key in between,
   * so holding Shift to type capitals (or Shift+Tab, Shift+Enter) never counts, and any
   * other key starts the count again.
   */
  var shiftCount = 0;
  var shiftFirstAt = 0;
  var shiftTapping = false;

  function onKeydownForExit(event) {
    if (exiting) { return; }
    if (event.key === "Shift") {
      if (!event.repeat) { shiftTapping = true; }
      return;
    }
    shiftTapping = false;
    shiftCount = 0;
  }

  function onKeyupForExit(event) {
    if (exiting || event.key !== "Shift") { return; }
    if (!shiftTapping) { return; }
    shiftTapping = false;
    var now = Date.now();
    if (shiftCount === 0 || now - shiftFirstAt > SHIFT_WINDOW_MS) {
      shiftCount = 0;
      shiftFirstAt = now;
    }
    shiftCount += 1;
    if (shiftCount >= SHIFT_PRESSES) {
      shiftCount = 0;
      quickExit();
      return;
    }
    announceShift(SHIFT_PRESSES - shiftCount);
  }

  var shiftAnnounceTimer = null;
  function announceShift(remaining) {
    var live = document.getElementById("quick-exit-progress");
    if (!live) { return; }
    live.textContent = remaining === 2 ? live.getAttribute("data-two-more")
      : live.getAttribute("data-one-more");
    window.clearTimeout(shiftAnnounceTimer);
    shiftAnnounceTimer = window.setTimeout(function () { live.textContent = ""; }, SHIFT_WINDOW_MS);
  }

  /* ---------- storage (sessionStorage only) ---------- */

  function loadState() {
    try {
      var raw = window.sessionStorage.getItem(STORAGE_KEY);
      if (!raw) { return emptyState(); }
      var data = JSON.parse(raw);
      if (!data || typeof data.conversation !== "string" || !Array.isArray(data.transcript)) {
        return emptyState();
      }
      var loaded = {
        conversation: data.conversation,
        transcript: data.transcript.filter(function (entry) {
          return entry && (entry.from === "bot" || entry.from === "user") &&
            typeof entry.text === "string";
        }).map(function (entry) {
          return transcriptEntry(entry.from, entry.text,
            languageOf({ code: entry.lang, direction: entry.dir }));
        }),
        done: data.done === true,
        reference: typeof data.reference === "string" ? data.reference : null,
        language: typeof data.language === "string" && LANGUAGE_CODE.test(data.language)
          ? data.language : null
      };
      if (data.focusOnLoad === true) { loaded.focusOnLoad = true; }
      return loaded;
    } catch (e) {
      return emptyState();
    }
  }

  /* One line of the transcript; `language` ({code, direction}) when it is known. */
  function transcriptEntry(from, text, language) {
    var entry = { from: from, text: text };
    if (language) {
      entry.lang = language.code;
      entry.dir = language.direction;
    }
    return entry;
  }

  function saveState() {
    if (exiting || switching) { return; }
    try {
      if (state.conversation) {
        window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) { /* private mode or full: the chat still works, it just won't resume */ }
  }

  function clearState() {
    state = emptyState();
    try { window.sessionStorage.removeItem(STORAGE_KEY); } catch (e) { /* ignore */ }
  }

  /* ---------- languages ---------- */

  /* {code, direction} from a response's (or a message's) `language`, or null. */
  function languageOf(value) {
    if (!value || typeof value !== "object") { return null; }
    if (typeof value.code !== "string" || !LANGUAGE_CODE.test(value.code)) { return null; }
    return { code: value.code, direction: value.direction === "rtl" ? "rtl" : "ltr" };
  }

  /* The language to show the page in for this response, if it is not the page's. */
  function languageToFollow(data) {
    var language = languageOf(data && data.language);
    if (!language || language.code === pageLang) { return null; }
    // The page was asked for this language and still came back in another (it does not
    // ship it): loading it again would only loop.
    if (askedLang === language.code) { return null; }
    return language.code;
  }

  /*
   * Load the page again in `code`. The state (with this turn's replies already in the
   * transcript) is saved first, so the new page draws the conversation and resumes it.
   * replace(): like the quick exit, no extra history entry that Back could return to.
   */
  function followLanguage(code, focusAfter) {
    if (focusAfter) { state.focusOnLoad = true; }
    saveState();
    switching = true;
    setBusy(true, el.status.textContent || str.sending);
    var url = new URL(window.location.href);
    url.searchParams.set("lang", code);
    url.hash = "";
    window.location.replace(url.href);
  }

  /* ---------- talking to the server ---------- */

  function ApiError(kind, status) {
    this.kind = kind;       // "network" | "server" | "notfound" | "bad"
    this.status = status || 0;
  }

  function api(method, path, body) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    inFlight = controller;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var options = {
      method: method,
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return window.fetch(str.api + path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.status === 404) { throw new ApiError("notfound", 404); }
        if (response.status === 400) { throw new ApiError("bad", 400); }
        if (!response.ok || !data || !Array.isArray(data.messages)) {
          throw new ApiError("server", response.status);
        }
        return data;
      });
    }, function () {
      throw new ApiError("network");
    }).finally(function () {
      if (timer) { window.clearTimeout(timer); }
      if (inFlight === controller) { inFlight = null; }
    });
  }

  /* ---------- drawing ---------- */

  /*
   * language: {code, direction} of a bot message, set on it when it is not the page's
   * (lines said before the conversation changed language). What the reporter typed may
   * be in any language, so its direction is taken from its own first letters.
   */
  function addBubble(from, text, pending, language) {
    messageCounter += 1;
    var bubble = document.createElement("div");
    bubble.className = "msg msg--" + from + (pending ? " msg--pending" : "");
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = from === "bot" ? str.botName : str.userName;
    var body = document.createElement("p");
    body.className = "msg__text";
    body.id = "msg-" + messageCounter;
    body.textContent = text;
    if (from === "user") {
      body.setAttribute("dir", "auto");
    } else if (language && language.code !== pageLang) {
      body.setAttribute("lang", language.code);
      body.setAttribute("dir", language.direction);
    }
    bubble.appendChild(who);
    bubble.appendChild(document.createTextNode(" "));
    bubble.appendChild(body);
    el.log.appendChild(bubble);
    return bubble;
  }

  function clearChoices() {
    el.choices.hidden = true;
    el.choices.removeAttribute("aria-labelledby");
    el.choices.removeAttribute("aria-label");
    while (el.choices.firstChild) { el.choices.removeChild(el.choices.firstChild); }
  }

  function renderChoices(choices, labelIds) {
    clearChoices();
    if (!choices || !choices.length) { return; }
    choices.forEach(function (choice) {
      if (!choice || typeof choice.value !== "string") { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button--choice";
      button.setAttribute("data-value", choice.value);
      // An isolated label, so a name in another script (the language menu's "اردو" on an
      // English page) keeps its own direction.
      var label = document.createElement("span");
      label.setAttribute("dir", "auto");
      label.textContent = typeof choice.label === "string" && choice.label ? choice.label : choice.value;
      var language = languageOf(choice.language);
      if (language && language.code !== pageLang) { label.setAttribute("lang", language.code); }
      button.appendChild(label);
      button.addEventListener("click", function (event) {
        // The second click of a double-click must not answer the next question too.
        if (event.detail > 1) { return; }
        send(choice.value, button.textContent);
      });
      el.choices.appendChild(button);
    });
    if (labelIds.length) {
      el.choices.setAttribute("aria-labelledby", labelIds.join(" "));
    } else {
      el.choices.setAttribute("aria-label", str.options);
    }
    el.choices.hidden = false;
  }

  function describeInputBy(labelIds) {
    el.input.setAttribute("aria-describedby", labelIds.concat(["message-hint"]).join(" "));
  }

  function setBusy(isBusy, statusText) {
    busy = isBusy;
    el.status.textContent = isBusy ? (statusText || str.sending) : "";
    el.status.classList.toggle("status--busy", isBusy);
    var buttons = [el.send].concat(
      Array.prototype.slice.call(el.choices.querySelectorAll("button")),
      Array.prototype.slice.call(el.tools.querySelectorAll("button"))
    );
    // aria-disabled rather than disabled, so keyboard focus is not thrown away.
    buttons.forEach(function (button) {
      if (isBusy) { button.setAttribute("aria-disabled", "true"); }
      else { button.removeAttribute("aria-disabled"); }
    });
    el.log.setAttribute("aria-busy", isBusy ? "true" : "false");
  }

  function showError(text, retry) {
    el.errorText.textContent = text;
    el.error.hidden = false;
    retryAction = retry || null;
    el.retry.hidden = !retry;
  }

  function hideError() {
    el.error.hidden = true;
    el.errorText.textContent = "";
    retryAction = null;
  }

  var retryAction = null;

  function setComposerVisible(visible) {
    el.composer.hidden = !visible;
    el.tools.hidden = !visible;
  }

  function showDone() {
    clearChoices();
    setComposerVisible(false);
    el.doneHeading.textContent = state.reference ? str.doneSent : str.doneEnded;
    el.doneReference.textContent = state.reference || "";
    el.doneReferenceBox.hidden = !state.reference;
    el.donePanel.hidden = false;
  }

  function hideDone() {
    el.donePanel.hidden = true;
    el.doneReference.textContent = "";
    el.doneHeading.textContent = "";
    setComposerVisible(true);
  }

  /*
   * Move focus to `target` and scroll so that everything from the top of `first` to
   * the bottom of `last` is on screen below the sticky exit bar (for a reply: the new
   * question down to the control that now has focus). If it cannot all fit, the
   * focused control wins.
   */
  function revealAndFocus(target, first, last) {
    if (!target) { return; }
    target.focus({ preventScroll: true });
    var barHeight = el.exitBar ? el.exitBar.getBoundingClientRect().height : 0;
    var viewTop = barHeight + 8;
    var viewBottom = window.innerHeight - 8;
    var targetBox = target.getBoundingClientRect();
    var top = first ? Math.min(first.getBoundingClientRect().top, targetBox.top) : targetBox.top;
    var bottom = last ? Math.max(last.getBoundingClientRect().bottom, targetBox.bottom) : targetBox.bottom;
    if (bottom - top <= viewBottom - viewTop) {
      if (top < viewTop) { window.scrollBy(0, top - viewTop); }
      else if (bottom > viewBottom) { window.scrollBy(0, bottom - viewBottom); }
    } else if (targetBox.bottom > viewBottom) {
      window.scrollBy(0, targetBox.bottom - viewBottom);
    } else if (targetBox.top < viewTop) {
      window.scrollBy(0, targetBox.top - viewTop);
    }
  }

  function replyMessages(data) {
    return data.messages.filter(function (m) { return m && typeof m.text === "string"; });
  }

  function messageLanguage(data, message) {
    return languageOf(message.language) || languageOf(data.language);
  }

  function noteLanguage(data) {
    var language = languageOf(data.language);
    if (language) { state.language = language.code; }
  }

  /* Keep a reply in the state without drawing it (the page is about to be reloaded). */
  function recordReply(data) {
    noteLanguage(data);
    replyMessages(data).forEach(function (message) {
      state.transcript.push(transcriptEntry("bot", message.text, messageLanguage(data, message)));
    });
    state.done = data.done === true;
    state.reference = typeof data.reference === "string" && data.reference ? data.reference : null;
  }

  /*
   * Show the bot's reply. skipFirstIfSameAs: on resume, the current question is
   * usually already the last line of the saved transcript, so it is not drawn twice.
   */
  function handleReply(data, options) {
    options = options || {};
    clearChoices();
    var messages = replyMessages(data);
    var labelIds = [];
    var firstNew = null;
    var lastBubble = null;
    messages.forEach(function (message, index) {
      if (index === 0 && options.skipIfSameAs !== undefined && options.skipIfSameAs === message.text &&
          options.lastBubble) {
        lastBubble = options.lastBubble;
        labelIds.push(lastBubble.querySelector(".msg__text").id);
        return;
      }
      var language = messageLanguage(data, message);
      var bubble = addBubble("bot", message.text, false, language);
      state.transcript.push(transcriptEntry("bot", message.text, language));
      labelIds.push(bubble.querySelector(".msg__text").id);
      if (!firstNew) { firstNew = bubble; }
      lastBubble = bubble;
    });
    if (!labelIds.length && options.lastBubble) {
      labelIds.push(options.lastBubble.querySelector(".msg__text").id);
    }
    var last = messages.length ? messages[messages.length - 1] : null;
    noteLanguage(data);
    state.done = data.done === true;
    state.reference = typeof data.reference === "string" && data.reference ? data.reference : null;
    saveState();

    if (state.done) {
      showDone();
      if (options.focus) { revealAndFocus(el.doneHeading, el.donePanel, el.donePanel); }
      return;
    }
    hideDone();
    renderChoices(last && Array.isArray(last.choices) ? last.choices : [], labelIds);
    describeInputBy(labelIds);
    if (options.focus) {
      var firstChoice = el.choices.querySelector("button");
      revealAndFocus(firstChoice || el.input, firstNew || lastBubble, null);
    }
  }

  /* ---------- actions ---------- */

  function startConversation(focusAfter) {
    hideError();
    setBusy(true, str.starting);
    return api("POST", "", askedLang ? { language: pageLang } : {}).then(function (data) {
      if (typeof data.conversation !== "string" || !data.conversation) {
        throw new ApiError("server");
      }
      state = emptyState();
      state.conversation = data.conversation;
      var language = languageToFollow(data);
      if (language) {
        recordReply(data);
        followLanguage(language, focusAfter);
        return;
      }
      setBusy(false);
      handleReply(data, { focus: focusAfter });
    }).catch(function (error) {
      setBusy(false);
      if (exiting) { return; }
      showError(str.errorStart, function () { startConversation(true); });
      if (focusAfter && error) { el.retry.focus(); }
    });
  }

  function resumeConversation() {
    // Redraw what was said, then ask the server where we are.
    var lastBubble = null;
    var lastBotText;
    state.transcript.forEach(function (entry) {
      lastBubble = drawEntry(entry);
      lastBotText = entry.from === "bot" ? entry.text : undefined;
    });
    if (lastBotText === undefined) { lastBubble = null; }
    // Arriving here from a change of language the reporter asked for: focus the question.
    var focusAfter = state.focusOnLoad === true;
    delete state.focusOnLoad;
    hideError();
    setBusy(true, str.starting);
    return api("GET", "/" + encodeURIComponent(state.conversation)).then(function (data) {
      var language = languageToFollow(data);
      if (language) {
        // The new page asks the server again, so this reply is not kept.
        followLanguage(language, focusAfter);
        return;
      }
      setBusy(false);
      handleReply(data, { focus: focusAfter, skipIfSameAs: lastBotText, lastBubble: lastBubble });
    }).catch(function (error) {
      setBusy(false);
      if (exiting) { return; }
      if (error && error.kind === "notfound") {
        // The server no longer knows this conversation: forget it and begin again.
        clearState();
        while (el.log.firstChild) { el.log.removeChild(el.log.firstChild); }
        startConversation(false);
        return;
      }
      showError(str.errorStart, function () {
        while (el.log.firstChild) { el.log.removeChild(el.log.firstChild); }
        resumeConversation().then(function () { focusCurrent(); });
      });
    });
  }

  function drawEntry(entry) {
    return addBubble(entry.from, entry.text, false,
      languageOf({ code: entry.lang, direction: entry.dir }));
  }

  function focusCurrent() {
    if (!el.donePanel.hidden) { el.doneHeading.focus(); return; }
    var first = el.choices.querySelector("button");
    (first || el.input).focus();
  }

  /*
   * Send one answer. `text` is what the server gets; `shown` is what appears in the
   * user's bubble (a choice's label). typed: the text box's value when the answer was
   * typed; the box is only emptied once the server has it, so nothing typed is lost.
   */
  /* A random id per message: a retry re-sends the same id, so the server answers it
   * again without applying it twice. */
  function newMessageId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function send(text, shown, typed, messageId) {
    if (busy || exiting || switching || state.done) { return; }
    messageId = messageId || newMessageId();
    if (!state.conversation) {
      // No conversation yet (start failed): try to start one; the typed text stays in the box.
      startConversation(true);
      return;
    }
    hideError();
    var bubble = addBubble("user", shown, true);
    setBusy(true);
    var conversation = state.conversation;
    api("POST", "/" + encodeURIComponent(conversation), { text: text, id: messageId })
      .then(function (data) {
      bubble.classList.remove("msg--pending");
      state.transcript.push(transcriptEntry("user", shown, null));
      if (typeof typed === "string" && el.input.value === typed) { el.input.value = ""; }
      var language = languageToFollow(data);
      if (language) {
        recordReply(data);
        followLanguage(language, true);
        return;
      }
      setBusy(false);
      handleReply(data, { focus: true });
    }).catch(function (error) {
      if (bubble.parentNode) { bubble.parentNode.removeChild(bubble); }
      setBusy(false);
      if (exiting) { return; }
      if (error && error.kind === "notfound") {
        clearState();
        while (el.log.firstChild) { el.log.removeChild(el.log.firstChild); }
        startConversation(true).then(function () {
          if (state.conversation) { showError(str.errorExpired, null); }
        });
        return;
      }
      var message = error && error.kind === "network" ? str.errorNetwork : str.errorServer;
      showError(message, function () {
        send(text, shown, typed, messageId);
      });
    });
  }

  function onSubmit(event) {
    event.preventDefault();
    if (busy) { return; }
    var text = el.input.value;
    if (!text.trim()) {
      el.status.textContent = str.empty;
      el.input.focus();
      return;
    }
    send(text.trim(), text.trim(), text);
  }

  function onInputKeydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
        !event.metaKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      onSubmit(event);
    }
  }

  function newReport() {
    if (busy) { return; }
    clearState();
    while (el.log.firstChild) { el.log.removeChild(el.log.firstChild); }
    hideDone();
    hideError();
    el.input.value = "";
    startConversation(true);
  }

  /* ---------- start up ---------- */

  function init() {
    var quick = document.getElementById("quick-exit");
    if (quick) { quick.addEventListener("click", quickExit); }

    // The skip link moves focus without changing the address: a #fragment would add a
    // history entry, and then Back after "Exit this page" could lead to this page again.
    Array.prototype.forEach.call(document.querySelectorAll(".skip-link"), function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById((link.getAttribute("href") || "").slice(1));
        if (!target) { return; }
        event.preventDefault();
        target.focus();
      });
    });

    var strings = document.getElementById("chat-strings");
    if (!strings) { return; }
    pageLang = document.documentElement.getAttribute("lang") || "";
    var asked = new URLSearchParams(window.location.search).get("lang");
    askedLang = asked && LANGUAGE_CODE.test(asked) ? asked : null;
    var d = strings.dataset;
    str = {
      api: d.api || "/api/chat",
      botName: d.botName, userName: d.userName, sending: d.sending, starting: d.starting,
      errorNetwork: d.errorNetwork, errorServer: d.errorServer, errorStart: d.errorStart,
      errorExpired: d.errorExpired, empty: d.empty, doneSent: d.doneSent, doneEnded: d.doneEnded,
      options: d.options
    };
    el = {
      exitBar: document.querySelector(".exit-bar"),
      log: document.getElementById("chat-log"),
      choices: document.getElementById("choices"),
      status: document.getElementById("status"),
      error: document.getElementById("error"),
      errorText: document.getElementById("error-text"),
      retry: document.getElementById("retry"),
      composer: document.getElementById("composer"),
      input: document.getElementById("message-input"),
      send: document.getElementById("send"),
      tools: document.getElementById("tools"),
      donePanel: document.getElementById("done-panel"),
      doneHeading: document.getElementById("done-heading"),
      doneReference: document.getElementById("done-reference"),
      doneReferenceBox: document.getElementById("done-reference-box"),
      newReport: document.getElementById("new-report")
    };

    el.composer.addEventListener("submit", onSubmit);
    el.input.addEventListener("keydown", onInputKeydown);
    el.input.addEventListener("input", function () {
      if (el.status.textContent === str.empty) { el.status.textContent = ""; }
    });
    el.retry.addEventListener("click", function () {
      if (retryAction && !busy) { retryAction(); }
    });
    el.newReport.addEventListener("click", newReport);
    Array.prototype.forEach.call(el.tools.querySelectorAll("button[data-command]"), function (button) {
      button.addEventListener("click", function (event) {
        if (event.detail > 1) { return; }
        send(button.getAttribute("data-command"), button.textContent.trim());
      });
    });

    state = loadState();
    if (state.conversation && state.done) {
      // A finished conversation needs nothing from the server: show it as it ended, in
      // its language.
      var language = languageToFollow({ language: { code: state.language } });
      if (language) {
        followLanguage(language, state.focusOnLoad === true);
        return;
      }
      state.transcript.forEach(drawEntry);
      setBusy(false);
      showDone();
      if (state.focusOnLoad) {
        delete state.focusOnLoad;
        saveState();
        revealAndFocus(el.doneHeading, el.donePanel, el.donePanel);
      }
    } else if (state.conversation) {
      resumeConversation();
    } else {
      clearState();
      startConversation(false);
    }
  }

  document.addEventListener("keydown", onKeydownForExit, true);
  document.addEventListener("keyup", onKeyupForExit, true);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
