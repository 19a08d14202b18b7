/* Haven's only script. The print button; and the idle timeout, told before it happens.
 *
 * The server ends a session after HAVEN_SESSION_IDLE_SECONDS without a request. This
 * script warns two minutes before, offers "Stay signed in", and counts typing in a form
 * as presence (it keeps the session alive, at most once a minute). If nobody answers,
 * what was typed in the page's form (a form marked data-draft) is sent to the server,
 * sealed there, and the browser is signed out; after signing in again the person is
 * offered it back. Nothing is kept in the browser's storage.
 */
(function () {
  "use strict";
  var printButton = document.getElementById("print-button");
  if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }
  var body = document.body;
  var total = parseInt(body.getAttribute("data-session-seconds") || "0", 10);
  if (!total) { return; }
  var keepaliveUrl = body.getAttribute("data-keepalive-url");
  var draftUrl = body.getAttribute("data-draft-url");
  var loginUrl = body.getAttribute("data-login-url");
  var warnBefore = Math.min(120, Math.floor(total / 3));
  var saveBefore = Math.min(20, Math.floor(total / 10));
  var lastServer = Date.now();
  var typedSince = false;
  var dirty = false;
  var leaving = false;
  var dialog = document.getElementById("session-warning");
  var stay = document.getElementById("session-stay");

  function token() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token(), "Accept": "application/json" },
      body: JSON.stringify(payload || {})
    });
  }

  function keepAlive() {
    return post(keepaliveUrl).then(function (response) {
      if (response.ok) { lastServer = Date.now(); typedSince = false; }
      return response.ok;
    });
  }

  function draftForm() {
    return document.querySelector("form[data-draft]");
  }

  function fieldsOf(form) {
    var out = [];
    var data = new FormData(form);
    data.forEach(function (value, name) {
      if (typeof value === "string" && name !== "csrfmiddlewaretoken") { out.push([name, value]); }
    });
    return out;
  }

  function leave() {
    if (leaving) { return; }
    leaving = true;
    var form = draftForm();
    if (form && dirty) {
      post(draftUrl, { path: window.location.pathname, form: fieldsOf(form) })
        .then(function () { window.location.assign(loginUrl); },
              function () { window.location.assign(loginUrl); });
    } else {
      window.location.assign(loginUrl);
    }
  }

  function showWarning() {
    if (!dialog || !dialog.hidden) { return; }
    dialog.hidden = false;
    if (stay) { stay.focus(); }
  }

  function hideWarning() {
    if (dialog) { dialog.hidden = true; }
  }

  document.addEventListener("input", function (event) {
    var form = event.target && event.target.form;
    if (form && form.hasAttribute("data-draft")) { dirty = true; }
    typedSince = true;
  });
  document.addEventListener("submit", function () { dirty = false; leaving = true; });

  if (stay) {
    stay.addEventListener("click", function () {
      keepAlive().then(function (ok) { if (ok) { hideWarning(); } else { leave(); } });
    });
  }

  window.setInterval(function () {
    if (leaving) { return; }
    var idle = (Date.now() - lastServer) / 1000;
    if (typedSince && idle > 60 && idle < total - saveBefore) {
      keepAlive();
      return;
    }
    if (idle >= total - saveBefore) { leave(); return; }
    if (idle >= total - warnBefore) { showWarning(); }
  }, 1000);

  /* A form kept at an earlier timeout: put its fields back. */
  var restored = document.getElementById("restored-draft");
  var form = draftForm();
  if (restored && form) {
    var fields = JSON.parse(restored.textContent || "[]");
    var byName = {};
    fields.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in byName) || el.name === "csrfmiddlewaretoken") { return; }
      var values = byName[el.name];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = values.indexOf(el.value) !== -1;
      } else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) !== -1; });
      } else if (el.type !== "file") {
        el.value = values[0];
      }
    });
    dirty = true;
  }
})();
