/* Preview: run one operation through the real runtime and show the exchange like a debugger.
 *
 * POST {arguments} to the run endpoint with the session cookie and the CSRF token. A 409
 * consent_required shows the approval prompt (Allow / Always allow when offered / Decline); the
 * choice is sent back as "consent". Then the request as sent (secrets already masked by the
 * server) and the response (status, headers, body) are shown. Plain JS, no dependencies.
 *
 * Connecting an account leaves the page (provider sign-in, then back through the callback).
 * What was typed is kept in sessionStorage (this tab only, never the server) before leaving,
 * and the page comes back with ?resume=1: the fields are filled in again and the call is run
 * again. Approval is asked again too: an approval is for one call, not carried across pages.
 */
(function () {
  "use strict";

  var form = document.getElementById("preview-form");
  if (!form) return;
  var runUrl = form.getAttribute("data-run-url");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var runButton = document.getElementById("run-button");
  var state = document.getElementById("run-state");
  var approval = document.getElementById("approval");
  var problem = document.getElementById("problem");
  var outcome = document.getElementById("outcome");
  var pendingArguments = null;
  var RESUME_KEY = "preview-resume:" + runUrl;
  var RESUME_MAX_AGE_MS = 15 * 60 * 1000; // the provider's state lives 10 minutes

  function typedValues() {
    var values = {};
    var fields = form.querySelectorAll("[data-arg]");
    for (var i = 0; i < fields.length; i++) {
      values[fields[i].getAttribute("data-arg")] = fields[i].value;
    }
    return values;
  }

  function remember() {
    try {
      sessionStorage.setItem(
        RESUME_KEY, JSON.stringify({ values: typedValues(), at: Date.now() })
      );
    } catch (e) { /* storage refused (private mode): the user types again */ }
  }

  /* The values kept before a connect round trip, once; null when there are none. */
  function takeRemembered() {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(RESUME_KEY) || "null");
      sessionStorage.removeItem(RESUME_KEY);
    } catch (e) {
      return null;
    }
    if (!saved || typeof saved.values !== "object" || !saved.values) return null;
    if (!(Date.now() - saved.at < RESUME_MAX_AGE_MS)) return null;
    return saved.values;
  }

  function resumeUrl() {
    var params = new URLSearchParams(window.location.search);
    params.set("resume", "1");
    return window.location.pathname + "?" + params.toString();
  }

  // Headings people read; the machine code stays in the API answer, not in the page's title.
  var HEADINGS = {
    oauth_required: "Connect your account first",
    domain_not_allowed: "This domain is not allowed in your workspace",
    invalid_arguments: "Check the arguments",
    rate_limited: "Too many requests: wait a moment",
    timeout: "The API did not answer in time",
    upstream_error: "The API could not be reached",
  };

  function show(el, visible) { el.hidden = !visible; }

  function fail(title, text, link) {
    document.getElementById("problem-title").textContent = title;
    document.getElementById("problem-text").textContent = text;
    var linkBox = document.getElementById("problem-link");
    if (link) {
      linkBox.querySelector("a").href = link;
      show(linkBox, true);
    } else {
      show(linkBox, false);
    }
    show(problem, true);
    problem.setAttribute("tabindex", "-1");
    problem.focus();
  }

  /* Turn each field's text into the JSON value its schema asks for. Empty optional fields are
   * left out; a value that does not convert is sent as typed so the server names the problem. */
  function collect() {
    var args = {};
    var fields = form.querySelectorAll("[data-arg]");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      var key = el.getAttribute("data-arg");
      var kind = el.getAttribute("data-kind");
      var raw = el.value;
      if (raw.trim() === "") continue;
      var value = raw;
      if (kind === "integer" || kind === "number") {
        var n = Number(raw.trim());
        value = isNaN(n) ? raw : n;
      } else if (kind === "boolean") {
        value = raw === "true" ? true : raw === "false" ? false : raw;
      } else if (kind === "json" || kind === "object" || kind === "array") {
        try {
          value = JSON.parse(raw);
        } catch (e) {
          throw new Error(key + " is not valid JSON: " + e.message);
        }
      }
      args[key] = value;
    }
    return args;
  }

  function wire(request) {
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
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (e) {
      return text;
    }
  }

  function showApproval(data) {
    // The GPT's name in a <bdi>: a direction override in it stays inside the name.
    var gpt = document.createElement("bdi");
    gpt.textContent = data.gpt ? data.gpt.name : "This GPT";
    document.getElementById("approval-text").replaceChildren(
      gpt,
      " wants to send this request to " + data.domain + "." +
        (data.operation && data.operation.consequential
          ? " This operation is consequential: it asks every time."
          : "")
    );
    document.getElementById("approval-request").textContent = wire(data.request);
    show(document.getElementById("always-allow"), !!data.always_allow_offered);
    show(approval, true);
    approval.querySelector("button[data-consent=allow]").focus();
  }

  function showResult(data) {
    document.getElementById("request-wire").textContent = wire(data.request);
    var response = data.response;
    var badge = document.getElementById("response-status");
    badge.textContent = String(response.status);
    badge.className = "status " + (response.status < 400 ? "ok" : "bad");
    var note = document.getElementById("response-note");
    if (data.status !== "ok") {
      note.textContent = data.detail || data.status;
      show(note, true);
    } else {
      show(note, false);
    }
    var list = document.getElementById("response-headers");
    list.textContent = "";
    Object.keys(response.headers || {}).forEach(function (name) {
      var dt = document.createElement("dt");
      dt.textContent = name;
      var dd = document.createElement("dd");
      dd.textContent = response.headers[name];
      list.appendChild(dt);
      list.appendChild(dd);
    });
    document.getElementById("response-body").textContent = pretty(response.body);
    show(outcome, true);
  }

  function run(args, consent) {
    show(problem, false);
    show(outcome, false);
    runButton.disabled = true;
    state.textContent = "Running…";
    var payload = { arguments: args };
    if (consent) payload.consent = consent;
    return fetch(runUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf,
      },
      body: JSON.stringify(payload),
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () { return { code: "error", detail: "The server answered " + response.status + "." }; })
          .then(function (data) { return { http: response.status, data: data }; });
      })
      .then(function (result) {
        state.textContent = "";
        var data = result.data;
        if (result.http === 409 && data.code === "consent_required") {
          pendingArguments = args;
          showApproval(data);
          state.textContent = "Waiting for your approval.";
          return;
        }
        show(approval, false);
        if (result.http === 200 && data.status === "declined") {
          fail("Declined", data.detail || "You declined: nothing was sent.");
          return;
        }
        if (result.http === 200) {
          showResult(data);
          state.textContent = "Done in " + data.duration_ms + " ms.";
          return;
        }
        var link = null;
        if (data.code === "oauth_required" && data.authorize_url) {
          link = data.authorize_url + "?next=" + encodeURIComponent(resumeUrl());
        }
        fail(
          HEADINGS[data.code] || "The request was not sent",
          (data.detail || "") + (data.argument ? " [" + data.argument + "]" : ""),
          link
        );
        if (data.request && data.response) showResult(data);
      })
      .catch(function (error) {
        state.textContent = "";
        fail("The run could not be started", error.message);
      })
      .then(function () { runButton.disabled = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    show(approval, false);
    var args;
    try {
      args = collect();
    } catch (error) {
      fail("Check the arguments", error.message);
      return;
    }
    run(args, null);
  });

  document.getElementById("problem-link").addEventListener("click", function (event) {
    if (event.target.closest("a")) remember();
  });

  (function resume() {
    var params = new URLSearchParams(window.location.search);
    if (params.get("resume") !== "1") return;
    params.delete("resume");
    var query = params.toString();
    window.history.replaceState(
      null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash
    );
    var values = takeRemembered();
    if (!values) return;
    var fields = form.querySelectorAll("[data-arg]");
    for (var i = 0; i < fields.length; i++) {
      var key = fields[i].getAttribute("data-arg");
      if (Object.prototype.hasOwnProperty.call(values, key)) fields[i].value = String(values[key]);
    }
    var args;
    try {
      args = collect();
    } catch (error) {
      fail("Check the arguments", error.message);
      return;
    }
    state.textContent = "Connected: running your request again.";
    run(args, null);
  })();

  approval.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-consent]");
    if (!button || pendingArguments === null) return;
    var args = pendingArguments;
    pendingArguments = null;
    show(approval, false);
    run(args, button.getAttribute("data-consent"));
  });
})();
