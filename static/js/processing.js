// Screenshots still being processed (services/evidence/processing.py): ask the desk every few
// seconds how many are left and reload the page once none is, unless the user has started typing
// in a form on it: then say they are ready, so nothing typed is lost. Gives up after 10 minutes;
// the page says how to reload without the script.
(function () {
  "use strict";

  var status = document.querySelector("[data-processing-status]");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-url");
  var typed = false;
  var tries = 0;
  document.addEventListener("input", function () { typed = true; });

  function ready() {
    if (!typed) {
      window.location.reload();
      return;
    }
    status.textContent = "The screenshots are ready. ";
    var link = document.createElement("a");
    link.href = "";
    link.textContent = "Reload the page to see them";
    status.appendChild(link);
    status.appendChild(document.createTextNode(" (save what you typed first)."));
  }

  function check() {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.processing === 0) {
          ready();
        } else if (tries < 200) {
          window.setTimeout(check, 3000);
        }
      })
      .catch(function () {
        if (tries < 200) {
          window.setTimeout(check, 3000);
        }
      });
  }

  window.setTimeout(check, 2000);
})();
