// Live character counters: a <textarea data-counter="ID" data-max-length="N"> writes
// "123 / 5,000" into the element with that id (which the server fills with "Up to 5,000
// characters", so the limit is stated without JavaScript too). Over the limit the counter says
// by how much: the field has no maxlength, so a long paste is kept whole rather than cut silently.
(function () {
  "use strict";

  var format = new Intl.NumberFormat("en");

  // Code points, as the server counts (a browser's .length counts UTF-16 units: an emoji is 2).
  function length(text) {
    return Array.from(text.trim()).length;
  }

  function describe(count, max) {
    if (count > max) {
      return format.format(count) + " / " + format.format(max) + " characters: " +
        format.format(count - max) + " over the limit, shorten it before you submit.";
    }
    if (count === max) {
      return format.format(count) + " / " + format.format(max) + " characters: the limit is reached.";
    }
    return format.format(count) + " / " + format.format(max) + " characters";
  }

  function attach(field) {
    var output = document.getElementById(field.getAttribute("data-counter"));
    var max = parseInt(field.getAttribute("data-max-length"), 10);
    if (!output || !(max > 0)) {
      return;
    }
    var update = function () {
      var count = length(field.value);
      output.textContent = describe(count, max);
      output.classList.toggle("char-count-over", count > max);
    };
    field.addEventListener("input", update);
    update();
  }

  document.querySelectorAll("[data-counter]").forEach(attach);
})();
