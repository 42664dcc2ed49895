// A table wider than its box (.table-scroll, overflow-x: auto: the dashboard's on a phone) can only
// be scrolled with a mouse or a finger unless the box takes the keyboard focus. Only boxes that
// do scroll become a tab stop (a labelled region, named by the table's caption or the heading
// above it), so a desktop's tab order gains nothing; checked again when the window is resized.
(function () {
  "use strict";

  function nameOf(box) {
    var caption = box.querySelector("caption");
    if (caption && caption.textContent.trim()) {
      return caption.textContent.trim();
    }
    for (var node = box.previousElementSibling; node; node = node.previousElementSibling) {
      if (/^H[1-6]$/.test(node.tagName) || node.tagName === "FIGCAPTION") {
        return node.textContent.trim();
      }
    }
    return "Table";
  }

  function mark() {
    var boxes = document.querySelectorAll(".table-scroll");
    for (var i = 0; i < boxes.length; i += 1) {
      var box = boxes[i];
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", nameOf(box) + " (scrolls sideways)");
      } else if (box.hasAttribute("tabindex")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }

  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(mark, 150);
  });
  mark();
})();
