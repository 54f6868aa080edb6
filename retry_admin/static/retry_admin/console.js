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
      if (panel) closePanel(panel);
    }
    if (close && !document.querySelector("#flash .flash")) focusOn(document.getElementById("main"));
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

  // ---- Accessibility (docs/console.md, "Accessibility") ----
  // Focus never falls to <body> when a live region or a panel is redrawn;
  // panels are dialogs (focus moves in, Escape and Cancel close them and
  // give focus back to what opened them); changed figures are read out
  // politely from #live-status.

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
    "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";
  var PANEL_HOSTS = "#bulk-panel, #dlq-panel";

  function lost() {
    var active = document.activeElement;
    return !active || active === document.body || active === document.documentElement;
  }

  function usable(element) {
    return !!element && element.isConnected && !element.disabled && element.getClientRects().length > 0;
  }

  function focusOn(element) {
    if (!element || !element.isConnected) return false;
    if (!element.matches(FOCUSABLE) && !element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
    element.focus({ preventScroll: false });
    return document.activeElement === element;
  }

  // Where focus was: the element, its id and the ids of its ancestors (nearest
  // first), so it can be found again once a swap has replaced it.
  function remember(element) {
    var ids = [];
    for (var node = element.parentElement; node && node !== document.body; node = node.parentElement) {
      if (node.id) ids.push(node.id);
    }
    return { element: element, id: element.id, ancestors: ids };
  }

  // Back to the remembered element, or its namesake after a redraw, or the
  // first control of the nearest redrawn ancestor, or the page's heading.
  function restore(place) {
    if (place) {
      if (usable(place.element) && focusOn(place.element)) return;
      var same = place.id && document.getElementById(place.id);
      if (usable(same) && focusOn(same)) return;
      for (var i = 0; i < place.ancestors.length; i++) {
        var container = document.getElementById(place.ancestors[i]);
        if (!container) continue;
        var controls = container.querySelectorAll(FOCUSABLE);
        for (var j = 0; j < controls.length; j++) {
          if (usable(controls[j]) && focusOn(controls[j])) return;
        }
      }
    }
    focusOn(document.querySelector("main h1")) || focusOn(document.getElementById("main"));
  }

  var lastFocus = null;
  document.addEventListener("focusin", function (event) {
    if (event.target !== document.body) lastFocus = remember(event.target);
  });

  // A request's own control may be disabled (hx-disabled-elt) or replaced
  // while it runs: afterwards, focus goes back to it or to its successor.
  var requestFocus = null;
  var openers = {};
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.defaultPrevented) return;
    var elt = event.detail.elt;
    var target = event.detail.target;
    var active = lost() ? null : document.activeElement;
    if (active && (elt === active || elt.contains(active))) requestFocus = remember(active);
    if (target && target.matches(PANEL_HOSTS) && !target.contains(elt)) {
      var opener = active || (elt.matches("form") ? elt.querySelector("[type=submit]") : elt);
      openers[target.id] = opener ? remember(opener) : null;
      target.dataset.opening = "1";
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    // <details> a user opened stay open when their region is redrawn.
    var target = event.detail.target;
    if (!target) return;
    target.__openDetails = Array.prototype.map.call(
      target.querySelectorAll("details[open][id]"), function (d) { return d.id; });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    (target.__openDetails || []).forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    if (target.matches(PANEL_HOSTS)) {
      var dialog = target.querySelector("[role=dialog]");
      var opening = target.dataset.opening === "1";
      delete target.dataset.opening;
      if (dialog && (opening || lost() || !target.contains(document.activeElement))) {
        focusOn(dialog);
        dialog.scrollIntoView({ block: "nearest" });
      }
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!lost()) { requestFocus = null; return; }
    var place = requestFocus || (lastFocus && !usable(lastFocus.element) ? lastFocus : null);
    requestFocus = null;
    if (place) restore(place);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    // A refused request swaps nothing: its re-enabled control gets focus back.
    if (!event.detail.successful && requestFocus && lost()) {
      var place = requestFocus;
      setTimeout(function () { if (lost()) restore(place); }, 0);
    }
  });

  // htmx wires new content up when it settles (20 ms after a swap): a form
  // submitted in between (Enter on a button whose region just refreshed)
  // would go to the server as a plain GET. Wire it up now and let htmx send it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!window.htmx || !form.matches("[hx-post], [hx-get]")) return;
    var data = form["htmx-internal-data"];
    if (data && data.initHash) return;
    event.preventDefault();
    window.htmx.process(form);
    window.htmx.trigger(form, "submit");
  }, true);

  function closePanel(panel) {
    var host = panel.parentElement;
    panel.remove();
    restore(host && openers[host.id]);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    var panel = event.target.closest && event.target.closest(".panel[role=dialog]");
    if (panel) {
      event.preventDefault();
      closePanel(panel);
    }
  });

  // Live figures: a [data-announce] element's text is read out when a refresh
  // changes it (never on the first render, never the same text twice).
  var announced = {};
  function announceKey(element) {
    var region = element.parentElement && element.parentElement.closest("[id]");
    return (region ? region.id : "") + "/" + (element.id || element.dataset.testid || element.tagName);
  }
  function readAnnouncements(root, speak) {
    var changed = [];
    root.querySelectorAll("[data-announce]").forEach(function (element) {
      var text = element.textContent.replace(/\s+/g, " ").trim();
      var key = announceKey(element);
      if (speak && key in announced && announced[key] !== text && text) changed.push(text);
      announced[key] = text;
    });
    var live = document.getElementById("live-status");
    if (changed.length && live) live.textContent = changed.join(" ");
  }
  document.addEventListener("htmx:afterSettle", function () { readAnnouncements(document, true); });

  document.addEventListener("DOMContentLoaded", function () {
    readAnnouncements(document, false);
    // The outcome of what was just done (a flash after a redirect) takes
    // focus, unless the page asks for a field (autofocus).
    var flashBox = document.querySelector("#flash .flash");
    if (flashBox && !document.querySelector("[autofocus]")) focusOn(flashBox);
  });
})();
