// Retry Admin console: the little behaviour htmx does not cover.
// Text from the server is only ever set with textContent (never innerHTML).
(function () {
  "use strict";

  function flash(level, text) {
    var area = document.getElementById("flash");
    if (!area) return;
    var box = document.createElement("div");
    box.className = "flash flash-" + level;
    box.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    box.appendChild(span);
    box.appendChild(close);
    area.replaceChildren(box);
  }

  // A refused or failed htmx request: say so where everyone looks.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = type.indexOf("text/plain") === 0 ? xhr.responseText : "";
    if (!text) {
      text = xhr.status >= 500
        ? "The server failed (" + xhr.status + "). Try again; if it keeps failing, check the server log."
        : "The request was refused (" + xhr.status + ").";
    }
    flash("error", text);
  });
  document.addEventListener("htmx:sendError", function () {
    flash("error", "The server did not answer. Live figures resume when it is back.");
  });

  function updateSelectionButtons() {
    document.querySelectorAll("[data-requires-selection]").forEach(function (button) {
      var selector = button.getAttribute("data-requires-selection");
      var count = document.querySelectorAll(selector + ":checked").length;
      if (!button.dataset.label) button.dataset.label = button.textContent.replace(/…$/, "");
      var ellipsis = /…$/.test(button.textContent) ? "…" : "";
      button.disabled = count === 0;
      button.textContent = button.dataset.label + (count ? " (" + count + ")" : "") + ellipsis;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var selector = target.getAttribute && target.getAttribute("data-select-all");
    if (selector) {
      document.querySelectorAll(selector).forEach(function (box) { box.checked = target.checked; });
    }
    updateSelectionButtons();
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest(".flash-close");
    if (close) close.closest(".flash").remove();
    var closer = event.target.closest("[data-close-panel]");
    if (closer) {
      var panel = closer.closest(".panel");
      if (panel) panel.remove();
    }
  });

  // A plain form submitted once: grey its button so a second click cannot
  // send it again (the server is idempotent anyway).
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("[data-once]");
    if (button) {
      setTimeout(function () {
        button.disabled = true;
        button.textContent = "Working…";
      }, 0);
    }
  });

  // Live regions poll only while the tab is visible; refresh them at once on return.
  // (Here, not as an hx-trigger filter: htmx evaluates filters with eval, which
  // the Content-Security-Policy refuses.) A poll is the request no event triggered.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.elt.getAttribute("hx-trigger") || "";
    if (document.visibilityState !== "visible" && /\bevery\s/.test(trigger) &&
        !event.detail.requestConfig.triggeringEvent) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && window.htmx) {
      window.htmx.trigger(document.body, "console:visible");
    }
  });

  // Back from the next page (bfcache): give the once-only buttons back.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("[data-once]").forEach(function (button) { button.disabled = false; });
  });

  // A request the browser cuts short because the page is leaving (a plain
  // form submitted, a link followed while a poll was in flight) is not an
  // error: forget its handlers so htmx does not log htmx:sendAbort.
  var inFlight = new Set();
  document.addEventListener("htmx:beforeSend", function (event) {
    inFlight.add(event.detail.xhr);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    inFlight.delete(event.detail.xhr);
  });
  function leaving() {
    inFlight.forEach(function (xhr) {
      xhr.onabort = null;
      xhr.onerror = null;
    });
    inFlight.clear();
  }
  window.addEventListener("beforeunload", leaving);
  window.addEventListener("pagehide", leaving);

  document.addEventListener("htmx:afterSettle", updateSelectionButtons);
  document.addEventListener("DOMContentLoaded", updateSelectionButtons);
})();
