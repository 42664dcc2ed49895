// A list still changing on the server (audit exports queued or running): open it again every few
// seconds (data-seconds) as a GET of data-page, so its progress shows, until nothing is in
// progress (the page then comes without this element). Instead of a meta refresh, which would wipe
// a form being filled in and could not be paused (WCAG 2.2.1): once someone types or chooses in a
// form on the page, it stops and says so; the link in the element reloads by hand.
(function () {
  "use strict";

  var status = document.querySelector("[data-refresh]");
  if (!status) {
    return;
  }
  var page = status.getAttribute("data-page");
  var seconds = parseInt(status.getAttribute("data-seconds"), 10) || 3;
  var timer = window.setTimeout(function () { window.location.replace(page); }, seconds * 1000);

  function pause() {
    if (timer === null) {
      return;
    }
    window.clearTimeout(timer);
    timer = null;
    status.textContent = "Updates paused while you fill in the form. ";
    var link = document.createElement("a");
    link.href = page;
    link.textContent = "Refresh the list";
    status.appendChild(link);
    status.appendChild(document.createTextNode(" to see the exports' progress."));
  }

  document.addEventListener("input", pause);
  document.addEventListener("change", pause);
})();
