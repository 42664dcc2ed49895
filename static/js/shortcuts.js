// Keyboard shortcuts, declared in the markup (templates/_shortcuts.html draws the hints and the
// "?" list). Nothing here knows a page; each page marks its elements:
//   data-shortcut="c"             the key clicks it (button, link, radio, summary) or focuses it
//                                 (a text field); the first visible one wins
//   data-shortcut-focus="ID"      after the click, focus moves to #ID (a/r/i -> the note field)
//   data-opens-dialog="ID"        a button that opens <dialog id=ID> as a modal (Esc closes it)
//   data-shortcut-list            j and k move a highlighted current item among its children
//                                 (a <tbody>'s rows); Enter opens the item's first link
//   data-ctrl-enter, data-ctrl-shift-enter   the submit button Ctrl/Cmd(+Shift)+Enter presses
//                                 from anywhere in its form
//   data-focus-on-load            focus lands here when the page opens (an error summary)
// Single keys never fire while the user types (text inputs, textarea, select, contenteditable)
// or with Ctrl, Alt or Meta held: they are the browser's and the system's. Esc leaves a text
// field, so the keys work again.
(function () {
  "use strict";

  // Input types that take no typing: a key pressed on them is free for a shortcut.
  var NOT_TYPING = ["button", "checkbox", "radio", "submit", "reset", "image", "file", "color", "range"];

  function isTyping(element) {
    if (!element || !element.tagName) {
      return false;
    }
    if (element.isContentEditable) {
      return true;
    }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    return tag === "INPUT" && NOT_TYPING.indexOf((element.type || "text").toLowerCase()) === -1;
  }

  // Shown on screen: not hidden, not disabled, not inside a closed <details> or display: none.
  function usable(element) {
    return !element.hidden && !element.disabled && element.getClientRects().length > 0;
  }

  function shortcutFor(key) {
    var candidates = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i].getAttribute("data-shortcut") === key && usable(candidates[i])) {
        return candidates[i];
      }
    }
    return null;
  }

  function activate(element) {
    if (isTyping(element)) {
      element.focus();
      return;
    }
    element.click();
    var then = document.getElementById(element.getAttribute("data-shortcut-focus") || "");
    if (then) {
      then.focus();
    } else if (element.type === "radio" || element.type === "checkbox") {
      element.focus();
    }
  }

  // --- j / k / Enter in a list ----------------------------------------------------------------
  var list = document.querySelector("[data-shortcut-list]");
  var items = list ? Array.prototype.slice.call(list.children) : [];
  var current = -1;

  function markCurrent(index) {
    items.forEach(function (item, i) {
      item.classList.toggle("is-current", i === index);
      if (i === index) {
        item.setAttribute("aria-current", "true");
      } else {
        item.removeAttribute("aria-current");
      }
    });
    current = index;
  }

  function moveTo(index) {
    if (!items.length) {
      return;
    }
    index = Math.max(0, Math.min(items.length - 1, index));
    markCurrent(index);
    var link = items[index].querySelector("a[href]");
    if (link) {
      link.focus({ preventScroll: true });
    }
    items[index].scrollIntoView({ block: "nearest" });
  }

  if (list) {
    // Tabbing or clicking into a row makes it the current one, so j/k continue from there.
    list.addEventListener("focusin", function (event) {
      var index = items.findIndex(function (item) { return item.contains(event.target); });
      if (index !== -1 && index !== current) {
        markCurrent(index);
      }
    });
  }

  // --- the "?" dialog -------------------------------------------------------------------------
  document.querySelectorAll("[data-opens-dialog]").forEach(function (button) {
    var dialog = document.getElementById(button.getAttribute("data-opens-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!dialog.open) {
        dialog.showModal();
      }
    });
  });

  // --- Ctrl/Cmd+Enter submits -----------------------------------------------------------------
  function submitChord(event) {
    var form = event.target.form || (event.target.closest && event.target.closest("form"));
    if (!form) {
      return false;
    }
    var button = form.querySelector(event.shiftKey ? "[data-ctrl-shift-enter]" : "[data-ctrl-enter]");
    if (!button || button.disabled) {
      return false;
    }
    button.click();  // a click, not form.submit(): the button's name and value go with the form
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) {
      return;
    }
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.altKey) {
      if (submitChord(event)) {
        event.preventDefault();
      }
      return;
    }
    if (event.key === "Escape") {
      // An open modal dialog closes itself on Esc; a text field lets go of the keyboard.
      if (isTyping(target) && !target.closest("dialog[open]")) {
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || isTyping(target)) {
      return;
    }
    if (document.querySelector("dialog[open]")) {
      return;  // the help list is modal: the page behind it takes no keys
    }
    if (items.length && (event.key === "j" || event.key === "k")) {
      event.preventDefault();
      moveTo(current + (event.key === "j" ? 1 : -1));
      return;
    }
    if (event.key === "Enter" && current !== -1 && !target.closest("a, button, input, summary")) {
      var link = items[current].querySelector("a[href]");
      if (link) {
        event.preventDefault();
        link.click();
      }
      return;
    }
    var element = shortcutFor(event.key);
    if (element) {
      event.preventDefault();
      activate(element);
    }
  });

  document.documentElement.classList.add("has-shortcuts");

  var first = document.querySelector("[data-focus-on-load]");
  if (first) {
    first.focus();
  }
})();
