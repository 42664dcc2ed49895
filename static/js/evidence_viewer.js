/* The evidence viewer of a request page (templates/staff/_evidence_viewer.html): the request's files
   full-screen in a modal <dialog>, with zoom, pan, next/previous, and a side-by-side comparison with the
   matching file of another request. Without this script the gallery and table links open the
   full-size files in a new tab, as before; with it, those links open the viewer at their file. */
(function () {
  "use strict";

  var dialog = document.querySelector("[data-viewer]");
  if (!dialog || typeof dialog.showModal !== "function") return;

  var ZOOM_STEP = 1.25;
  var MAX_ZOOM = 32;        // times the fitted size: a 1280 px screenshot shown at most ~25 screen px per pixel
  var PAN_STEP_PX = 80;     // one arrow key press when zoomed

  var section = dialog.closest("[data-evidence-section]") || document;
  var launch = document.querySelector("[data-viewer-launch]");
  var opener = document.querySelector("[data-viewer-open]");
  var files = Array.prototype.slice.call(dialog.querySelectorAll("[data-viewer-file]"));
  var frames = dialog.querySelectorAll("[data-viewer-frame]");
  var images = dialog.querySelectorAll("[data-viewer-image]");
  var otherPane = dialog.querySelector("[data-viewer-other-pane]");
  var otherLink = dialog.querySelector("[data-viewer-other-link]");
  var otherCaption = dialog.querySelector("[data-viewer-other-caption]");
  var ownCaption = dialog.querySelector("[data-viewer-caption]");
  var position = dialog.querySelector("[data-viewer-position]");
  var zoomOutput = dialog.querySelector("[data-viewer-zoom]");
  var compareButton = dialog.querySelector('[data-viewer-action="compare"]');
  var stepButtons = dialog.querySelectorAll('[data-viewer-action="previous"], [data-viewer-action="next"]');

  // zoom: times the fitted size, shared by both images. panX/panY: -1..1, how far into each image's
  // overflow the view is moved, so a comparison shows the same part of both however large they are.
  var state = { index: 0, zoom: 1, panX: 0, panY: 0, match: null, returnTo: null };

  function panes() {
    var shown = [{ frame: frames[0], image: images[0] }];
    if (!otherPane.hidden) shown.push({ frame: frames[1], image: images[1] });
    return shown;
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  // Both images are drawn at the same on-screen width (the narrower of their fitted widths, times
  // the zoom), so a comparison lines up even when one file is a resized copy of the other.
  function geometries() {
    var shown = panes().map(function (pane) {
      return { pane: pane, width: pane.frame.clientWidth, height: pane.frame.clientHeight,
               natural: { width: pane.image.naturalWidth, height: pane.image.naturalHeight } };
    }).filter(function (g) { return g.natural.width && g.width; });
    // Fit never enlarges: a small screenshot is shown at its own size until zoomed.
    var fitted = Math.min.apply(null, shown.map(function (g) {
      return g.natural.width * Math.min(g.width / g.natural.width, g.height / g.natural.height, 1);
    }));
    return shown.map(function (g) {
      g.scale = fitted * state.zoom / g.natural.width;
      g.shown = { width: g.natural.width * g.scale, height: g.natural.height * g.scale };
      g.overflowX = Math.max(0, (g.shown.width - g.width) / 2);
      g.overflowY = Math.max(0, (g.shown.height - g.height) / 2);
      return g;
    });
  }

  function layout() {
    var all = geometries();
    all.forEach(function (g) {
      var x = (g.width - g.shown.width) / 2 - state.panX * g.overflowX;
      var y = (g.height - g.shown.height) / 2 - state.panY * g.overflowY;
      // CSSOM styles are not inline markup: the CSP allows them.
      g.pane.image.style.transform = "translate(" + x + "px, " + y + "px) scale(" + g.scale + ")";
      g.pane.frame.classList.toggle("is-zoomed", g.overflowX > 0 || g.overflowY > 0);
    });
    if (all.length && all[0].pane.image === images[0]) zoomOutput.value = Math.round(all[0].scale * 100) + "%";
  }

  function setZoom(zoom) {
    state.zoom = clamp(zoom, 1, MAX_ZOOM);
    if (state.zoom === 1) { state.panX = 0; state.panY = 0; }
    layout();
  }

  // Moves the view by screen pixels of the main image (the comparison follows in proportion).
  function panBy(dx, dy) {
    var g = geometries().filter(function (item) { return item.pane.image === images[0]; })[0];
    if (!g) return;
    if (g.overflowX) state.panX = clamp(state.panX + dx / g.overflowX, -1, 1);
    if (g.overflowY) state.panY = clamp(state.panY + dy / g.overflowY, -1, 1);
    layout();
  }

  function matchesOf(index) {
    return Array.prototype.slice.call(files[index].querySelectorAll("[data-viewer-match]"));
  }

  function setCompare(match) {
    state.match = match;
    otherPane.hidden = !match;
    compareButton.setAttribute("aria-pressed", match ? "true" : "false");
    dialog.querySelectorAll("[data-viewer-compare]").forEach(function (button) {
      button.setAttribute("aria-pressed", match && button.closest("[data-viewer-match]") === match ? "true" : "false");
    });
    if (match) {
      images[1].alt = "Screenshot " + match.dataset.name + " of request #" + match.dataset.request;
      images[1].src = match.dataset.src;
      otherLink.href = match.dataset.requestUrl;
      otherLink.textContent = "Request #" + match.dataset.request;
      otherCaption.textContent = match.dataset.name + " (" + match.dataset.label + ")";
    }
    layout();
  }

  function show(index) {
    state.index = (index + files.length) % files.length;
    var file = files[state.index];
    files.forEach(function (item) { item.hidden = item !== file; });
    images[0].alt = "Screenshot " + file.dataset.name;
    if (images[0].getAttribute("src") !== file.dataset.src) images[0].src = file.dataset.src;
    ownCaption.textContent = file.dataset.name;
    position.textContent = "· file " + (state.index + 1) + " of " + files.length;
    var matches = matchesOf(state.index);
    compareButton.disabled = !matches.length;
    compareButton.title = matches.length ? "Side by side with the matching file of another request (c)"
      : "No other request has a matching file";
    state.zoom = 1; state.panX = 0; state.panY = 0;
    // Comparing stays on while stepping through the files that have a match.
    setCompare(state.match && matches.length ? matches[0] : null);
  }

  function open(index, from) {
    state.returnTo = from || opener;
    show(index);
    if (!dialog.open) dialog.showModal();
    layout();
  }

  function close() { dialog.close(); }

  dialog.addEventListener("close", function () {
    setCompare(null);
    if (state.returnTo && document.contains(state.returnTo)) state.returnTo.focus();
  });

  // --- opening: the button (also clicked by the page's "e" shortcut) and the existing links ----------

  launch.hidden = false;
  opener.addEventListener("click", function () { open(0, opener); });
  section.querySelectorAll("a[href]").forEach(function (link) {
    if (dialog.contains(link)) return;
    var index = files.findIndex(function (file) { return link.getAttribute("href") === file.dataset.src; });
    if (index < 0) return;
    link.addEventListener("click", function (event) {
      // A modified click still opens the bare file in a new tab, as the link says.
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      open(index, link);
    });
  });

  // --- buttons --------------------------------------------------------------------------------------

  var actions = {
    previous: function () { show(state.index - 1); },
    next: function () { show(state.index + 1); },
    "zoom-in": function () { setZoom(state.zoom * ZOOM_STEP); },
    "zoom-out": function () { setZoom(state.zoom / ZOOM_STEP); },
    fit: function () { setZoom(1); },
    compare: function () {
      var matches = matchesOf(state.index);
      setCompare(state.match || !matches.length ? null : matches[0]);
    },
    close: close
  };
  if (files.length < 2) stepButtons.forEach(function (button) { button.disabled = true; });

  dialog.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || button.disabled) return;
    if (button.dataset.viewerAction) actions[button.dataset.viewerAction]();
    if (button.hasAttribute("data-viewer-compare")) {
      var match = button.closest("[data-viewer-match]");
      setCompare(state.match === match ? null : match);
    }
  });

  images.forEach(function (image) { image.addEventListener("load", layout); });
  window.addEventListener("resize", function () { if (dialog.open) layout(); });

  // --- mouse: wheel zooms, drag pans ------------------------------------------------------------------

  frames.forEach(function (frame) {
    frame.addEventListener("wheel", function (event) {
      event.preventDefault();
      setZoom(state.zoom * Math.exp(-event.deltaY * 0.002));
    }, { passive: false });
    var last = null;
    frame.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      last = { x: event.clientX, y: event.clientY };
      frame.setPointerCapture(event.pointerId);
      frame.classList.add("is-dragging");
    });
    frame.addEventListener("pointermove", function (event) {
      if (!last) return;
      panBy(last.x - event.clientX, last.y - event.clientY);
      last = { x: event.clientX, y: event.clientY };
    });
    function stop() { last = null; frame.classList.remove("is-dragging"); }
    frame.addEventListener("pointerup", stop);
    frame.addEventListener("pointercancel", stop);
  });

  // --- keyboard ---------------------------------------------------------------------------------------

  function focusable() {
    return Array.prototype.filter.call(dialog.querySelectorAll("button, a[href]"), function (element) {
      return !element.disabled && element.getClientRects().length > 0;
    });
  }

  dialog.addEventListener("keydown", function (event) {
    // The page's own shortcuts (claim, decide…) must not fire behind the viewer.
    event.stopPropagation();
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Tab") {
      // showModal keeps focus out of the page but lets it leave to the browser's chrome: wrap instead.
      var items = focusable();
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
      return;
    }
    var zoomed = state.zoom > 1;
    var handlers = {
      "+": actions["zoom-in"], "=": actions["zoom-in"],
      "-": actions["zoom-out"], "_": actions["zoom-out"],
      "0": actions.fit,
      "[": actions.previous, "]": actions.next,
      c: function () { if (!compareButton.disabled) actions.compare(); },
      ArrowLeft: zoomed ? function () { panBy(-PAN_STEP_PX, 0); } : actions.previous,
      ArrowRight: zoomed ? function () { panBy(PAN_STEP_PX, 0); } : actions.next,
      ArrowUp: zoomed ? function () { panBy(0, -PAN_STEP_PX); } : null,
      ArrowDown: zoomed ? function () { panBy(0, PAN_STEP_PX); } : null
    };
    var handler = handlers[event.key];
    if (!handler) return;
    if ((event.key === "[" || event.key === "]" || event.key.indexOf("Arrow") === 0) && files.length < 2 && !zoomed) return;
    event.preventDefault();
    handler();
  });
}());
