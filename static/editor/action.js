/*
 * The action page's live parts, in plain JavaScript (no framework, no build step):
 * - validation as the builder types (debounced), errors that jump to their line;
 * - the Available actions table from the verdict;
 * - the Examples menu, Format, and Import from URL with its progress;
 * - showing only the authentication fields of the chosen type, copying the callback URL;
 * - a warning before leaving with unsaved changes, Ctrl/Cmd+S to save;
 * - Fix buttons on warnings (the server computes the edits), Swagger 2.0 converted on paste,
 *   and, for schemas over 30 operations, a picker keeping up to 30 (POST /schema/select).
 * Every change the page makes to the schema text goes through the textarea's own editing
 * (execCommand "insertText"), so Ctrl+Z undoes it, and a notice offers an Undo button too.
 * Saving itself is the form's plain POST, handled by the server. The script talks to the REST
 * API (/api/v1/) with the session cookie and the page's CSRF token.
 */
(function () {
  "use strict";

  const VALIDATE_DELAY_MS = 400;
  const POLL_INTERVAL_MS = 700;
  const IMPORT_GIVE_UP_MS = 120000;

  const config = JSON.parse(document.getElementById("action-page-config").textContent);
  const form = document.getElementById("action-form");
  const textarea = document.getElementById("id_schema");
  const gutter = document.getElementById("schema-gutter");
  const statusLine = document.getElementById("schema-status");
  const errorBlock = document.getElementById("error-block");
  const errorList = document.getElementById("error-list");
  const warningBlock = document.getElementById("warning-block");
  const warningList = document.getElementById("warning-list");
  const opsTable = document.getElementById("ops-table");
  const opsBody = document.getElementById("ops-body");
  const opsEmpty = document.getElementById("ops-empty");
  const dirtyNote = document.getElementById("dirty-note");
  const csrfInput = form.querySelector("[name=csrfmiddlewaretoken]");

  // The schema as saved on the server, when the textarea still shows it: only then do the
  // Test buttons lead somewhere (Preview runs the saved operations).
  let savedSchema = config.schemaIsSaved ? textarea.value : null;
  let savedOperationIds = new Set(config.savedOperationIds);
  let savedStates = config.savedOperationStates || {};

  // --- REST API -----------------------------------------------------------------------------

  async function api(method, path, body, signal) {
    const headers = { Accept: "application/json" };
    if (csrfInput) headers["X-CSRFToken"] = csrfInput.value;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(config.apiBase + path, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal,
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function detailOf(result, fallback) {
    return (result && result.data && result.data.detail) || fallback;
  }

  // --- Line-number gutter --------------------------------------------------------------------

  let gutterKey = "";
  let markedLines = { error: new Set(), warning: new Set() };

  function lineCount() {
    let count = 1;
    const text = textarea.value;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) count++;
    return count;
  }

  function renderGutter() {
    const count = lineCount();
    const key = count + "|" + [...markedLines.error].join(",") + "|" + [...markedLines.warning].join(",");
    if (key !== gutterKey) {
      gutterKey = key;
      const parts = new Array(count);
      for (let n = 1; n <= count; n++) {
        if (markedLines.error.has(n)) parts[n - 1] = '<span class="err">' + n + "</span>";
        else if (markedLines.warning.has(n)) parts[n - 1] = '<span class="warn">' + n + "</span>";
        else parts[n - 1] = String(n);
      }
      // Room below the last number so the gutter can follow the textarea's scroll to the end
      // (its horizontal scrollbar takes a line's height).
      gutter.innerHTML = parts.join("\n") + "\n\n\n";
    }
    gutter.scrollTop = textarea.scrollTop;
  }

  textarea.addEventListener("scroll", function () {
    gutter.scrollTop = textarea.scrollTop;
  });
  // The textarea can be resized vertically; the gutter follows its height.
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      gutter.style.height = textarea.offsetHeight + "px";
    }).observe(textarea);
  }

  // --- Jumping to a problem's line -----------------------------------------------------------

  function jumpTo(line, column) {
    const lines = textarea.value.split("\n");
    const target = Math.min(Math.max(line, 1), lines.length);
    let start = 0;
    for (let i = 0; i < target - 1; i++) start += lines[i].length + 1;
    const text = lines[target - 1];
    let col = Math.min(Math.max((column || 1) - 1, 0), text.length);
    if (col >= text.length) col = 0; // nothing after the column: select the whole line
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start + col, start + text.length);
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (target - 1) * lineHeight - textarea.clientHeight / 3);
    textarea.scrollLeft = 0;
    gutter.scrollTop = textarea.scrollTop;
    textarea.scrollIntoView({ block: "nearest" });
  }

  function onProblemClick(event) {
    const button = event.target.closest("button.problem");
    if (!button || !button.dataset.line) return;
    jumpTo(parseInt(button.dataset.line, 10), parseInt(button.dataset.column || "1", 10));
  }
  errorList.addEventListener("click", onProblemClick);
  warningList.addEventListener("click", onProblemClick);

  // --- Rendering a verdict -------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function problemItem(problem, kind) {
    const item = document.createElement("li");
    const hasLine = Number.isInteger(problem.line) && problem.line > 0;
    const box = el(hasLine ? "button" : "div", "problem " + kind);
    if (hasLine) {
      box.type = "button";
      box.dataset.line = problem.line;
      box.dataset.column = problem.column || 1;
      const where = "Line " + problem.line + (problem.column ? ", column " + problem.column : "");
      box.appendChild(el("span", "where", where));
      box.appendChild(document.createTextNode(" "));
    }
    box.appendChild(el("span", "message", problem.message));
    if (problem.pointer) {
      box.appendChild(document.createTextNode(" "));
      box.appendChild(el("code", "pointer", problem.pointer));
    }
    item.appendChild(box);
    if (problem.fix && config.editable) {
      // A sibling of the problem's button (a button can not hold another).
      item.className = "has-fix";
      const fix = el("button", "secondary small fix", "Fix");
      fix.type = "button";
      fix.title = problem.fix.label;
      fix.setAttribute("aria-label", "Fix: " + problem.fix.label);
      fix.addEventListener("click", function () {
        applyFix(problem.fix);
      });
      item.appendChild(fix);
    }
    return item;
  }

  function renderProblems(list, block, problems, kind) {
    list.replaceChildren(...problems.map(function (p) { return problemItem(p, kind); }));
    block.hidden = problems.length === 0;
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function setStatus(text, state) {
    statusLine.textContent = text;
    statusLine.className = "schema-status" + (state ? " " + state : "");
  }

  function testable() {
    return Boolean(config.actionId) && savedSchema !== null && textarea.value === savedSchema;
  }

  function renderOperations(operations) {
    const canTest = testable();
    opsBody.replaceChildren(
      ...operations.map(function (op) {
        const row = document.createElement("tr");
        const name = el("td");
        name.appendChild(el("span", "op-name", op.operation_id || "(no operationId)"));
        if (op.summary) name.appendChild(el("span", "op-summary", op.summary));
        const method = el("td");
        const methodText = (op.method || "").toUpperCase();
        method.appendChild(el("span", "method method-" + methodText.toLowerCase(), methodText));
        const path = el("td", "path");
        path.appendChild(el("code", "", op.path || ""));
        // The workspace admins' word on a saved operation (disabled, waiting for review...).
        const status = el("td", "op-status");
        const saved = canTest ? savedStates[op.operation_id] : null;
        if (saved && saved.state) {
          status.appendChild(el("span", "op-state op-state-" + saved.code, saved.state));
          status.appendChild(el("span", "op-why", saved.why));
        } else if (saved) {
          status.appendChild(el("span", "op-state op-state-on", "On"));
        }
        const test = el("td", "test");
        if (canTest && savedOperationIds.has(op.operation_id)) {
          const link = el("a", "button secondary small", "Test");
          link.href = config.testUrlTemplate
            .replace("{id}", String(config.actionId))
            .replace("{operation}", encodeURIComponent(op.operation_id));
          link.setAttribute("aria-label", "Test " + op.operation_id);
          test.appendChild(link);
        } else if (config.editable) {
          test.appendChild(el("span", "muted small", "Save to test"));
        }
        row.append(name, method, path, status, test);
        return row;
      })
    );
    opsTable.hidden = operations.length === 0;
    opsEmpty.hidden = operations.length !== 0;
  }

  function policyProblem(verdict) {
    const problem = config.domainProblem;
    if (!problem) return null;
    if (problem.pointer !== "/servers/0/url") return problem; // an OAuth URL: not in the schema
    let host = "";
    try { host = new URL((verdict.servers || [])[0]).hostname; } catch (err) { return null; }
    return host.replace(/\.$/, "").toLowerCase() === problem.host ? problem : null;
  }

  function showVerdict(verdict) {
    if (verdict === null) {
      setStatus("", "");
      markedLines = { error: new Set(), warning: new Set() };
      renderProblems(errorList, errorBlock, [], "error");
      renderProblems(warningList, warningBlock, [], "warning");
      renderOperations([]);
      renderGutter();
      return;
    }
    // The live check knows no workspace policy: add the page's verdict on the saved domain
    // while the schema still points there, so the status never says "Valid" for a blocked host.
    // Inside a GPT the server already says it (validate with `action`/`gpt`): not twice.
    const told = (verdict.errors || []).filter(function (p) { return p.code === "domain_not_allowed"; });
    const blocked = told.length ? told[0] : policyProblem(verdict);
    const errors = (verdict.errors || []).concat(blocked && !told.length ? [blocked] : []);
    // Only the policy stands in the way: the schema itself is fine, so say "Not allowed".
    const onlyPolicy = errors.length > 0 && errors.every(function (p) {
      return p.code === "domain_not_allowed" || p === blocked;
    });
    const warnings = verdict.warnings || [];
    const codes = errors.map(function (p) { return p.code; });
    if (codes.indexOf("swagger_2") !== -1) offerConversion();
    if (codes.indexOf("too_many_operations") !== -1) showPicker(verdict.operations || []);
    else hidePicker();
    markedLines = {
      error: new Set(errors.map(function (p) { return p.line; }).filter(Boolean)),
      warning: new Set(warnings.map(function (p) { return p.line; }).filter(Boolean)),
    };
    renderProblems(errorList, errorBlock, errors, "error");
    renderProblems(warningList, warningBlock, warnings, "warning");
    const warningText = warnings.length ? " · " + plural(warnings.length, "warning") : "";
    if (blocked && (verdict.valid || onlyPolicy)) {
      setStatus("Not allowed: " + blocked.message + warningText, "invalid");
      renderOperations(verdict.operations || []);
    } else if (verdict.valid) {
      const operations = verdict.operations || [];
      setStatus("Valid — " + plural(operations.length, "action") + warningText, "valid");
      renderOperations(operations);
    } else {
      setStatus(plural(errors.length, "error") + warningText, "invalid");
      renderOperations([]);
    }
    renderGutter();
  }

  // --- Live validation -----------------------------------------------------------------------

  let validateTimer = null;
  let validateSeq = 0;
  let validateController = null;

  async function validateNow() {
    clearTimeout(validateTimer);
    const seq = ++validateSeq;
    if (validateController) validateController.abort();
    const text = textarea.value;
    if (!text.trim()) {
      showVerdict(null);
      return;
    }
    if (!statusLine.textContent) setStatus("Checking…", "pending");
    validateController = new AbortController();
    // Dim the last verdict while checking, without announcing "checking" at every pause.
    statusLine.classList.add("pending");
    try {
      const body = { schema: text };
      // Inside a GPT the check also says what saving would be refused for (domain, operationId).
      if (config.actionId) body.action = config.actionId;
      else if (config.gptId) body.gpt = config.gptId;
      const result = await api("POST", "/schema/validate", body, validateController.signal);
      if (seq !== validateSeq) return; // the builder typed on; a newer check is coming
      if (!result.ok) {
        setStatus(detailOf(result, "The schema could not be checked."), "invalid");
        return;
      }
      showVerdict(result.data);
    } catch (err) {
      if (err.name === "AbortError") return;
      if (seq === validateSeq) setStatus("Could not reach the server to check the schema.", "invalid");
    }
  }

  function scheduleValidation() {
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validateNow, VALIDATE_DELAY_MS);
  }

  textarea.addEventListener("input", function () {
    // Undo of an example (or a fix, a conversion...) is offered only until the builder edits.
    const note = document.getElementById("example-note");
    if (note) note.remove();
    if (!applying) hideNotice();
    renderGutter();
    scheduleValidation();
  });

  /** Replace the schema text (example, format, import) and check it at once. */
  function setSchema(text, options) {
    textarea.value = text;
    // Caret at the start, so focusing the textarea afterwards shows the top of the document.
    textarea.setSelectionRange(0, 0);
    textarea.scrollTop = 0;
    textarea.scrollLeft = 0;
    if (!(options && options.saved)) markDirty();
    renderGutter();
    validateNow();
  }

  // --- Changes the page makes to the text: undoable ------------------------------------------

  const notice = document.getElementById("schema-notice");
  let applying = false;

  function hideNotice() {
    if (notice) {
      notice.hidden = true;
      notice.replaceChildren();
    }
  }

  /** Replace text[start:end] through the textarea's own editing, so Ctrl+Z undoes it. */
  // Chromium's editing commands take seconds on megabytes: past this size the text is set
  // directly (the notice's Undo button still puts back the text before).
  const NATIVE_EDIT_MAX = 300000;

  function editRange(start, end, text) {
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start, end);
    if (text.length > NATIVE_EDIT_MAX || end - start > NATIVE_EDIT_MAX) {
      textarea.setRangeText(text, start, end, "end");
      return;
    }
    let done = false;
    try {
      done = text === ""
        ? (start === end || document.execCommand("delete", false))
        : document.execCommand("insertText", false, text);
    } catch (err) {
      done = false;
    }
    if (!done) textarea.setRangeText(text, start, end, "end");
  }

  /**
   * Change the schema text (fix, conversion, picker, format, import) and say so, with an Undo
   * button that puts back exactly the text before. `edits` are {start, end, text}, last first.
   */
  function changeText(edits, message, details) {
    const before = textarea.value;
    applying = true;
    try {
      edits.forEach(function (e) { editRange(e.start, e.end, e.text); });
    } finally {
      applying = false;
    }
    if (textarea.value === before) return;
    markDirty();
    renderGutter();
    validateNow();
    showNotice(message, details, function () {
      applying = true;
      try {
        editRange(0, textarea.value.length, before);
      } finally {
        applying = false;
      }
      markDirty();
      renderGutter();
      validateNow();
    });
  }

  function replaceAll(text, message, details) {
    changeText([{ start: 0, end: textarea.value.length, text: text }], message, details);
    textarea.setSelectionRange(0, 0);
    textarea.scrollTop = 0;
  }

  function showNotice(message, details, undo) {
    if (!notice) return;
    notice.replaceChildren(document.createTextNode(message));
    if (undo) {
      const button = el("button", "secondary small", "Undo");
      button.type = "button";
      button.id = "notice-undo";
      button.addEventListener("click", function () {
        hideNotice();
        undo();
        textarea.focus();
      });
      notice.appendChild(button);
    }
    if (details && details.length) {
      const list = el("ul");
      details.forEach(function (d) { list.appendChild(el("li", "", d)); });
      notice.appendChild(list);
    }
    notice.hidden = false;
  }

  function applyFix(fix) {
    changeText(fix.edits, "Applied: " + fix.label + ".");
  }

  // --- Swagger 2.0: converted to OpenAPI 3.0 for review ---------------------------------------

  const declined = new Set(); // texts whose conversion the builder undid: not offered again

  async function offerConversion() {
    const text = textarea.value;
    if (!config.editable || declined.has(text)) return;
    declined.add(text);
    const result = await api("POST", "/schema/convert", { schema: text });
    if (!result.ok || textarea.value !== text) return;
    const notes = result.data.notes || [];
    replaceAll(
      result.data.schema,
      "This was a Swagger 2.0 document: it is converted to OpenAPI 3.0 below. Review it before saving." +
        (notes.length ? " Not carried over:" : ""),
      notes
    );
  }

  // --- Big schemas: pick up to 30 operations ------------------------------------------------------

  const picker = document.getElementById("picker");
  const pickerList = document.getElementById("picker-list");
  const pickerSearch = document.getElementById("picker-search");
  const pickerTag = document.getElementById("picker-tag");
  const pickerMethod = document.getElementById("picker-method");
  const pickerCount = document.getElementById("picker-count");
  const pickerKeep = document.getElementById("picker-keep");
  const pickerEmpty = document.getElementById("picker-empty");
  const PICK_LIMIT = 30;
  let pickerOps = [];
  let picked = new Set();
  let pickerKey = "";

  function opKey(op) {
    return op.operation_id || (op.method + " " + op.path);
  }

  function hidePicker() {
    if (picker) picker.hidden = true;
  }

  function showPicker(operations) {
    if (!picker || !config.editable) return;
    const key = operations.map(opKey).join("\n");
    picker.hidden = false;
    if (key === pickerKey) return;
    pickerKey = key;
    pickerOps = operations;
    picked = new Set([...picked].filter(function (k) { return operations.some(function (op) { return opKey(op) === k; }); }));
    document.getElementById("picker-total").textContent = String(operations.length);
    const tags = new Set();
    const methods = new Set();
    operations.forEach(function (op) {
      (op.tags || []).forEach(function (t) { tags.add(t); });
      methods.add(op.method);
    });
    fillSelect(pickerTag, "All tags", [...tags].sort());
    fillSelect(pickerMethod, "All methods", [...methods].sort());
    renderPicker();
  }

  function fillSelect(select, allLabel, values) {
    const current = select.value;
    select.replaceChildren(new Option(allLabel, ""));
    values.forEach(function (v) { select.appendChild(new Option(v, v)); });
    select.value = values.indexOf(current) !== -1 ? current : "";
  }

  function renderPicker() {
    const query = pickerSearch.value.trim().toLowerCase();
    const tag = pickerTag.value;
    const method = pickerMethod.value;
    const shown = pickerOps.filter(function (op) {
      if (tag && (op.tags || []).indexOf(tag) === -1) return false;
      if (method && op.method !== method) return false;
      if (!query) return true;
      return [op.operation_id, op.path, op.summary].some(function (v) {
        return v && v.toLowerCase().indexOf(query) !== -1;
      });
    });
    pickerList.replaceChildren(...shown.slice(0, 500).map(function (op) {
      const item = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = opKey(op);
      box.checked = picked.has(box.value);
      box.disabled = !box.checked && picked.size >= PICK_LIMIT;
      const text = el("span");
      text.appendChild(el("span", "method method-" + op.method.toLowerCase(), op.method));
      text.appendChild(document.createTextNode(" "));
      text.appendChild(el("span", "op-name", op.operation_id || "(no operationId)"));
      text.appendChild(document.createTextNode(" "));
      text.appendChild(el("code", "", op.path));
      if (op.summary) text.appendChild(el("span", "op-summary", op.summary));
      label.append(box, text);
      item.appendChild(label);
      return item;
    }));
    pickerEmpty.hidden = shown.length !== 0;
    pickerCount.textContent = picked.size + " of " + PICK_LIMIT + " selected" +
      (shown.length > 500 ? " · showing the first 500 matches" : "");
    pickerKeep.disabled = picked.size === 0;
  }

  if (picker) {
    pickerList.addEventListener("change", function (event) {
      const box = event.target;
      if (box.type !== "checkbox") return;
      if (box.checked) picked.add(box.value);
      else picked.delete(box.value);
      renderPicker();
    });
    [pickerSearch, pickerTag, pickerMethod].forEach(function (input) {
      input.addEventListener("input", renderPicker);
    });
    pickerSearch.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // not the page's Save
    });
    document.getElementById("picker-clear").addEventListener("click", function () {
      picked = new Set();
      renderPicker();
    });
    pickerKeep.addEventListener("click", async function () {
      const names = [...picked];
      pickerKeep.disabled = true;
      const result = await api("POST", "/schema/select", { schema: textarea.value, operations: names });
      pickerKeep.disabled = false;
      if (!result.ok) {
        setStatus(detailOf(result, "The operations could not be picked."), "invalid");
        return;
      }
      picked = new Set();
      pickerKey = "";
      replaceAll(
        result.data.schema,
        "Kept " + plural(result.data.operations.length, "operation") +
          " and the components they use. Review the schema, then save."
      );
    });
  }

  // --- Dirty state ---------------------------------------------------------------------------

  let dirty = false;
  let submitting = false;

  function markDirty() {
    dirty = true;
    if (dirtyNote) dirtyNote.hidden = false;
  }

  form.addEventListener("input", function (event) {
    if (event.target.id !== "import-url") markDirty();
  });
  form.addEventListener("submit", function () {
    submitting = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s" && config.editable) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // --- Authentication sections ---------------------------------------------------------------

  function showAuthFields() {
    const chosen = form.querySelector("input[name=auth_type]:checked");
    const kind = chosen ? chosen.value : "none";
    form.querySelectorAll("[data-auth-panel]").forEach(function (panel) {
      panel.hidden = panel.dataset.authPanel !== kind;
    });
    const keyType = form.querySelector("input[name=api_key_auth_type]:checked");
    const custom = form.querySelector("[data-custom-header]");
    if (custom) custom.hidden = !keyType || keyType.value !== "custom";
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "auth_type" || event.target.name === "api_key_auth_type") {
      showAuthFields();
    }
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", async function () {
      const input = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (err) {
        input.select();
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });

  // --- Toolbar: Examples, Format, Import -----------------------------------------------------

  const tools = document.getElementById("schema-tools");
  if (tools && config.editable) {
    tools.hidden = false;
    setUpExamples();
    setUpFormat();
    setUpImport();
  }

  function setUpExamples() {
    const toggle = document.getElementById("examples-toggle");
    const list = document.getElementById("examples-list");
    let examples = null;
    let undoText = null;

    function open(state) {
      list.hidden = !state;
      toggle.setAttribute("aria-expanded", String(state));
      if (state) list.querySelector("button").focus();
    }
    toggle.addEventListener("click", function () {
      open(list.hidden);
    });
    list.addEventListener("keydown", function (event) {
      const items = [...list.querySelectorAll("button")];
      const index = items.indexOf(document.activeElement);
      if (event.key === "Escape") {
        open(false);
        toggle.focus();
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        items[(index + 1) % items.length].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        items[(index - 1 + items.length) % items.length].focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (!list.hidden && !event.target.closest("#examples-menu")) open(false);
    });

    list.addEventListener("click", async function (event) {
      const button = event.target.closest("button[data-example]");
      if (!button) return;
      open(false);
      if (examples === null) {
        setStatus("Loading the example…", "pending");
        const result = await api("GET", "/schema/examples");
        if (!result.ok) {
          setStatus(detailOf(result, "The examples could not be loaded."), "invalid");
          return;
        }
        examples = result.data;
      }
      const example = examples.find(function (e) { return e.key === button.dataset.example; });
      if (!example) return;
      undoText = textarea.value;
      setSchema(example.schema);
      textarea.focus();
      offerUndo(example.title, function () {
        setSchema(undoText);
      });
    });
  }

  /** After an example replaced the text: say so, and offer to put the old text back. */
  function offerUndo(title, undo) {
    const note = document.getElementById("example-note") || el("p", "help");
    note.id = "example-note";
    note.replaceChildren(document.createTextNode("Loaded the " + title + " example."));
    const button = el("button", "linkish undo", "Undo");
    button.type = "button";
    button.addEventListener("click", function () {
      undo();
      note.remove();
      textarea.focus();
    });
    note.appendChild(button);
    statusLine.parentElement.after(note);
  }

  function setUpFormat() {
    document.getElementById("format-button").addEventListener("click", async function () {
      if (!textarea.value.trim()) return;
      const result = await api("POST", "/schema/format", { schema: textarea.value });
      if (!result.ok) {
        setStatus(detailOf(result, "The schema could not be formatted."), "invalid");
        return;
      }
      if (result.data.schema === textarea.value) return;
      const hadComments = /(^|\s)#/.test(textarea.value) && !/^\s*[{[]/.test(textarea.value);
      replaceAll(
        result.data.schema,
        hadComments ? "Formatted. YAML comments are not kept by Format: Undo brings them back." : "Formatted."
      );
    });
  }

  function setUpImport() {
    const toggle = document.getElementById("import-toggle");
    const panel = document.getElementById("import-panel");
    const urlInput = document.getElementById("import-url");
    const button = document.getElementById("import-button");
    const box = document.getElementById("import-status");
    const message = document.getElementById("import-message");
    // A new action made by the import gets the privacy policy URL typed so far (a GPT shared
    // publicly refuses an action without one).
    const privacyInput = document.getElementById("id_privacy_policy_url");
    let running = false;

    toggle.addEventListener("click", function () {
      const opening = panel.hidden;
      panel.hidden = !opening;
      toggle.setAttribute("aria-expanded", String(opening));
      if (opening) urlInput.focus();
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // not the page's Save
        start();
      } else if (event.key === "Escape") {
        panel.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
    button.addEventListener("click", start);

    function show(state, text) {
      box.hidden = false;
      box.className = "import-status " + state;
      message.textContent = text;
    }

    function sleep(ms) {
      return new Promise(function (resolve) { setTimeout(resolve, ms); });
    }

    async function start() {
      if (running) return;
      const url = urlInput.value.trim();
      if (!url) {
        show("failed", "Enter the URL of an OpenAPI document.");
        urlInput.focus();
        return;
      }
      const previous = textarea.value;
      if (previous.trim() && !window.confirm(
        "Replace the current schema with the one at this URL? The import saves it; Undo afterwards puts the current text back."
      )) return;
      running = true;
      button.disabled = true;
      try {
        await run(url, previous);
      } catch (err) {
        show("failed", "The import could not be started: the server did not answer.");
      } finally {
        running = false;
        button.disabled = false;
      }
    }

    async function run(url, previous) {
      show("pending", "Starting the import…");
      const creating = !config.actionId;
      // On a new action the server's import job creates the action, and only when the import
      // succeeds: a failed import (or a tab closed meanwhile) leaves nothing behind.
      const started = creating
        ? await api("POST", "/gpts/" + config.gptId + "/imports/", {
            url: url,
            privacy_policy_url: privacyInput ? privacyInput.value.trim() : "",
          })
        : await api("POST", "/actions/" + config.actionId + "/imports/", { url: url });
      if (!started.ok) {
        show("failed", detailOf(started, "The import could not be started."));
        return;
      }
      let job = started.data;
      const begun = Date.now();
      while (job.status === "pending" || job.status === "running") {
        show("running", job.status === "pending" ? "Import queued…" : "Importing " + url + "…");
        if (Date.now() - begun > IMPORT_GIVE_UP_MS) {
          show("failed", creating
            ? "The import is taking long. It goes on in the background: when it succeeds, the new action is on the GPT's page."
            : "The import is taking long. It goes on in the background: reload the page later.");
          return;
        }
        await sleep(POLL_INTERVAL_MS);
        const polled = await api("GET", "/imports/" + job.id + "/");
        if (!polled.ok) {
          show("failed", detailOf(polled, "The import's progress could not be read."));
          return;
        }
        job = polled.data;
      }
      if (job.status === "failed") {
        show("failed", "Import failed: " + (job.error || "no reason given."));
        return;
      }
      if (creating) becomeSaved(job.action);
      const action = await api("GET", "/actions/" + config.actionId + "/");
      if (!action.ok) {
        show("failed", detailOf(action, "The imported schema could not be loaded."));
        return;
      }
      if (creating) nameInBreadcrumb(action.data.domain);
      savedSchema = action.data.schema;
      savedOperationIds = new Set(action.data.operations.map(function (op) { return op.operation_id; }));
      savedStates = {};
      action.data.operations.forEach(function (op) {
        const off = !op.enabled ? "Disabled" : op.review === "pending" ? "Waiting for review" : "";
        savedStates[op.operation_id] = { state: off, code: off ? "imported" : "", why: "" };
      });
      setSchema(action.data.schema, { saved: true });
      show("succeeded", "Imported and saved: " + plural(action.data.operations.length, "action") + " found.");
      const importNotes = (job.notes || []).slice();
      if (importNotes.length) {
        showNotice(importNotes.shift() + " Review it; it is saved.", importNotes, previous.trim() ? undoImport : null);
      } else if (previous.trim() && previous !== action.data.schema) {
        showNotice("The imported schema replaced the text you had.", null, undoImport);
      }
      function undoImport() {
        applying = true;
        try {
          editRange(0, textarea.value.length, previous);
        } finally {
          applying = false;
        }
        markDirty();
        renderGutter();
        validateNow();
      }
    }
  }

  /** A new action got its id (created by an import): from now on the page edits it. */
  function becomeSaved(actionId) {
    config.actionId = actionId;
    const url = config.actionUrlTemplate.replace("{id}", String(actionId));
    form.action = url;
    window.history.replaceState(null, "", url);
    const heading = document.querySelector(".page-head h1");
    if (heading) heading.textContent = "Edit action";
  }

  /** The breadcrumb said "New action"; the page now edits the action of this domain. */
  function nameInBreadcrumb(domain) {
    const current = document.querySelector(".crumbs [aria-current=page]");
    if (current && domain) current.textContent = domain;
  }

  // --- Delete confirmation -------------------------------------------------------------------

  document.querySelectorAll("form[data-confirm]").forEach(function (deleteForm) {
    deleteForm.addEventListener("submit", function (event) {
      if (!window.confirm(deleteForm.dataset.confirm)) event.preventDefault();
      else submitting = true;
    });
  });

  // --- Start ---------------------------------------------------------------------------------

  showAuthFields();
  renderGutter();
  if (textarea.value.trim()) validateNow();
})();
