/* The chat with a GPT: the editor's Preview (with its debug pane) and /g/{id}/.
 *
 * A conversation is created through the JSON API (POST /api/v1/gpts/{id}/conversations/) and
 * each turn is POSTed to the page's stream endpoint, which answers with server-sent events as
 * the model writes: "delta" (text), "message" (a saved message), "tool_call" (a call's new
 * status), then "done" {status, pending, messages} or "failed". A turn that stops for an
 * approval shows Allow / Always allow (when offered) / Decline inline; one that needs an
 * account shows "Sign in to <domain>", which comes back here with ?c=<id>&resume=1 and the
 * call is retried. Plain JS, no dependencies, no inline script (the page's CSP allows 'self').
 */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) return;

  var log = document.getElementById("chat-log");
  var empty = document.getElementById("chat-empty");
  var statusLine = document.getElementById("chat-status");
  var form = document.getElementById("composer");
  var input = document.getElementById("chat-input");
  var sendButton = document.getElementById("send-button");
  var debugList = document.getElementById("debug-calls");
  var debugEmpty = document.getElementById("debug-empty");
  var csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  var marker = root.getAttribute("data-marker");
  var debug = root.getAttribute("data-debug") === "1";
  var gptName = root.getAttribute("data-gpt-name");
  var conversationId = root.getAttribute("data-conversation") || null;
  var busy = false;
  var streaming = null; // the assistant bubble being written
  var cards = []; // approval / sign-in cards of the current stop

  function url(name, id) {
    return root.getAttribute("data-" + name + "-url").replace(marker, String(id));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setBusy(value, text) {
    busy = value;
    sendButton.disabled = value;
    var starters = root.querySelectorAll(".starter");
    for (var i = 0; i < starters.length; i++) starters[i].disabled = value;
    statusLine.textContent = text || "";
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function hideEmpty() { if (empty) empty.hidden = true; }

  function clearCards() {
    cards.forEach(function (card) { card.remove(); });
    cards = [];
  }

  /* Messages ------------------------------------------------------------------------------ */

  function bubble(role, text, isError) {
    hideEmpty();
    var item = el("div", "msg msg-" + role + (isError ? " msg-error" : ""));
    var who = el("span", "msg-who visually-hidden", role === "user" ? "You said:" : gptName + " said:");
    var body = el("div", "msg-body", text);
    item.appendChild(who);
    item.appendChild(body);
    if (isError) item.setAttribute("role", "alert");
    log.appendChild(item);
    scrollDown();
    return item;
  }

  function callChip(call) {
    var chip = el("p", "call-chip call-" + call.status);
    chip.setAttribute("data-call", call.id);
    chipText(chip, call);
    return chip;
  }

  var STATUS_WORDS = {
    pending: "running…",
    consent_required: "waiting for your approval",
    oauth_required: "waiting for you to sign in",
    ok: "done",
    declined: "declined",
    error: "failed",
    cancelled: "not sent"
  };

  function chipText(chip, call) {
    chip.className = "call-chip call-" + call.status;
    chip.textContent = "Called " + call.operation_id + " · " + (STATUS_WORDS[call.status] || call.status);
  }

  function renderMessage(message) {
    if (message.role === "user") {
      bubble("user", message.content, false);
      return;
    }
    if (message.role === "tool") return; // what the model read: shown in the debug pane only
    if (streaming && !message.error) {
      // The text streamed in already; the saved message is the final word on it.
      if (message.content) streaming.querySelector(".msg-body").textContent = message.content;
      else streaming.remove();
      streaming = null;
    } else if (message.content) {
      bubble("assistant", message.content, message.error);
    }
    message.tool_calls.forEach(function (call) {
      var chip = log.querySelector('[data-call="' + cssEscape(call.id) + '"]');
      if (!chip) {
        hideEmpty();
        log.appendChild(callChip(call));
      } else {
        chipText(chip, call);
      }
      debugCall(call);
    });
    scrollDown();
  }

  function cssEscape(text) { return String(text).replace(/["\\]/g, "\\$&"); }

  /* Debug pane (Preview only) ------------------------------------------------------------- */

  function wire(request) {
    if (!request) return "(not sent)";
    var lines = [request.method + " " + request.url];
    var headers = request.headers || {};
    Object.keys(headers).forEach(function (name) { lines.push(name + ": " + headers[name]); });
    if (request.body !== null && request.body !== undefined && request.body !== "") {
      lines.push("");
      lines.push(pretty(request.body));
    }
    return lines.join("\n");
  }

  function pretty(text) {
    if (typeof text !== "string") return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function responseText(response) {
    if (!response) return "(no response)";
    if (response.error) return response.error.code + ": " + response.error.detail;
    var lines = ["HTTP " + response.status];
    var headers = response.headers || {};
    Object.keys(headers).forEach(function (name) { lines.push(name + ": " + headers[name]); });
    lines.push("");
    lines.push(pretty(response.body || ""));
    return lines.join("\n");
  }

  function debugCall(call) {
    if (!debug || !debugList) return;
    if (debugEmpty) debugEmpty.hidden = true;
    var item = debugList.querySelector('[data-debug-call="' + cssEscape(call.id) + '"]');
    if (!item) {
      item = el("li", "debug-call");
      item.setAttribute("data-debug-call", call.id);
      var details = el("details");
      details.appendChild(el("summary"));
      details.appendChild(el("h4", null, "Arguments"));
      details.appendChild(el("pre", "wire debug-arguments"));
      details.appendChild(el("h4", null, "Request"));
      details.appendChild(el("pre", "wire debug-request"));
      details.appendChild(el("h4", null, "Response"));
      details.appendChild(el("pre", "wire debug-response"));
      item.appendChild(details);
      debugList.appendChild(item);
    }
    item.querySelector("summary").textContent = call.operation_id + " · " + (STATUS_WORDS[call.status] || call.status);
    item.querySelector(".debug-arguments").textContent = pretty(call.arguments);
    item.querySelector(".debug-request").textContent = wire(call.request);
    item.querySelector(".debug-response").textContent = responseText(call.response);
  }

  /* Stops: approval and sign-in cards ------------------------------------------------------ */

  var CHOICE_LABELS = { allow: "Allow", always_allow: "Always allow", decline: "Decline" };

  function approvalCard(pending) {
    var card = el("div", "card approval");
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", "Approve the request to " + pending.domain);
    card.appendChild(el("p", "card-title", gptName + " wants to send a request to " + pending.domain + "."));
    card.appendChild(el("p", "muted small", "Operation " + pending.operation_id + ". What will be sent:"));
    card.appendChild(el("pre", "wire", wire(pending.request)));
    var choices = el("div", "choices");
    (pending.choices || []).forEach(function (choice) {
      var button = el("button", choice === "allow" ? "" : "secondary", CHOICE_LABELS[choice] || choice);
      button.type = "button";
      button.setAttribute("data-consent", choice);
      button.addEventListener("click", function () {
        if (busy) return;
        clearCards();
        turn({ tool_call_id: pending.tool_call_id, consent: choice });
      });
      choices.appendChild(button);
    });
    card.appendChild(choices);
    return card;
  }

  function signInCard(pending) {
    var card = el("div", "card signin");
    card.appendChild(el("p", "card-title", "Sign in to " + pending.domain));
    card.appendChild(el("p", "muted small", gptName + " needs your account at " + pending.domain +
      " to run " + pending.operation_id + ". You will come back here and the call will go on."));
    var link = el("a", "button", "Sign in to " + pending.domain);
    link.href = pending.authorize_url;
    link.id = "signin-link";
    card.appendChild(link);
    return card;
  }

  function showStop(status, pending) {
    clearCards();
    if (!pending) return;
    var card = status === "consent_required" ? approvalCard(pending)
      : status === "oauth_required" ? signInCard(pending) : null;
    if (!card) return;
    hideEmpty();
    log.appendChild(card);
    cards.push(card);
    scrollDown();
  }

  /* Turns -------------------------------------------------------------------------------- */

  function jsonFetch(target, method, body) {
    return fetch(target, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.detail || ("The server answered " + response.status + "."));
        return data;
      });
    });
  }

  function ensureConversation() {
    if (conversationId) return Promise.resolve(conversationId);
    return jsonFetch(root.getAttribute("data-create-url"), "POST", { channel: root.getAttribute("data-channel") })
      .then(function (data) {
        conversationId = data.id;
        var here = new URL(window.location.href);
        here.searchParams.set("c", data.id);
        here.searchParams.delete("resume");
        window.history.replaceState(null, "", here.toString());
        return conversationId;
      });
  }

  function handle(kind, data) {
    if (kind === "delta") {
      if (!streaming) streaming = bubble("assistant", "", false);
      streaming.querySelector(".msg-body").textContent += data.text;
      scrollDown();
    } else if (kind === "message") {
      renderMessage(data);
    } else if (kind === "tool_call") {
      var chip = log.querySelector('[data-call="' + cssEscape(data.id) + '"]');
      if (chip) chipText(chip, data);
      debugCall(data);
    } else if (kind === "done") {
      if (streaming) { streaming.remove(); streaming = null; }
      showStop(data.status, data.pending);
    } else if (kind === "failed") {
      bubble("assistant", data.detail, true);
    }
  }

  function readEvents(response) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var frames = buffer.split("\n\n");
        buffer = frames.pop();
        frames.forEach(function (frame) {
          var kind = "message";
          var data = "";
          frame.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) kind = line.slice(7);
            else if (line.indexOf("data: ") === 0) data += line.slice(6);
          });
          if (data) handle(kind, JSON.parse(data));
        });
        return pump();
      });
    }
    return pump();
  }

  function turn(body) {
    setBusy(true, gptName + " is answering…");
    return ensureConversation().then(function (id) {
      return fetch(url("stream", id), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "text/event-stream" },
        body: JSON.stringify(body)
      });
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          throw new Error(data.detail || ("The server answered " + response.status + "."));
        });
      }
      return readEvents(response);
    }).catch(function (error) {
      bubble("assistant", error.message || "The connection was lost. Try again.", true);
    }).then(function () {
      setBusy(false, "");
      // A stop's card holds the next step (Allow, Sign in); otherwise the person writes on.
      var next = cards.length ? cards[0].querySelector("button, a") : input;
      if (next) next.focus();
    });
  }

  function send(text) {
    if (busy || !text.trim()) return;
    clearCards();
    bubble("user", text, false);
    input.value = "";
    turn({ content: text });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send(input.value);
    }
  });
  var starters = root.querySelectorAll(".starter");
  for (var i = 0; i < starters.length; i++) {
    starters[i].addEventListener("click", function (event) {
      send(event.currentTarget.getAttribute("data-starter"));
    });
  }
  document.getElementById("new-chat").addEventListener("click", function () {
    var here = new URL(window.location.href);
    here.searchParams.delete("c");
    here.searchParams.delete("resume");
    window.location.assign(here.toString());
  });

  /* An existing conversation (?c=): show it, and resume the call after a sign-in. */
  if (conversationId) {
    setBusy(true, "Loading the conversation…");
    jsonFetch(url("conversation", conversationId), "GET").then(function (data) {
      data.messages.forEach(renderMessage);
      setBusy(false, "");
      if (root.getAttribute("data-resume") === "1" && data.state === "oauth_required") {
        turn({ resume: true });
      } else {
        showStop(data.state, data.pending);
      }
    }).catch(function (error) {
      conversationId = null;
      setBusy(false, error.message);
    });
  }
})();
