// Long texts (a review, a seller's explanation) collapsed to a few lines with a "Show all" button:
// elements marked data-collapsible. Without JavaScript the whole text shows, and so does any text
// short enough to fit; the collapsed text stays in the page, so screen readers read all of it.
(function () {
  "use strict";

  var format = new Intl.NumberFormat("en");

  document.querySelectorAll("[data-collapsible]").forEach(function (element, index) {
    element.classList.add("is-collapsed");
    if (element.scrollHeight <= element.clientHeight + 4) {
      element.classList.remove("is-collapsed");
      return;
    }
    if (!element.id) {
      element.id = "collapsible-" + (index + 1);
    }
    var length = format.format(Array.from(element.textContent.trim()).length);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "show-all";
    button.setAttribute("aria-controls", element.id);
    button.setAttribute("aria-expanded", "false");
    button.textContent = "Show all (" + length + " characters)";
    button.addEventListener("click", function () {
      var collapsed = element.classList.toggle("is-collapsed");
      button.setAttribute("aria-expanded", String(!collapsed));
      button.textContent = collapsed ? "Show all (" + length + " characters)" : "Show less";
    });
    element.insertAdjacentElement("afterend", button);
  });
})();
