// Screenshots still being processed (services/evidence/processing.py): ask the desk every few
// seconds how many are left, and once none is, open the request page again (data-page: a GET,
// also when this page answered a form's POST, so nothing is sent twice). Not while a form on the
// page holds text, typed or kept from a refused submit: then it only says they are ready (also in
// the decision bar's notice, data-processing-notice), so nothing is lost. Gives up after 10
// minutes; the page says how to reload without the script.
(function () {
  "use strict";

  var status = document.querySelector("[data-processing-status]");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-url");
  var page = status.getAttribute("data-page");
  var typed = false;
  var tries = 0;
  document.addEventListener("input", function () { typed = true; });

  function holdsText() {
    if (typed) {
      return true;
    }
    var fields = document.querySelectorAll("form textarea, form input[type=text], form input[type=file]");
    for (var i = 0; i < fields.length; i += 1) {
      if (fields[i].type === "file" ? fields[i].files.length : fields[i].value.trim()) {
        return true;
      }
    }
    return false;
  }

  function ready() {
    if (!holdsText()) {
      window.location.assign(page);
      return;
    }
    status.textContent = "The screenshots are ready. ";
    var link = document.createElement("a");
    link.href = page;
    link.textContent = "Open the page again to see them";
    status.appendChild(link);
    status.appendChild(document.createTextNode(" (save what you wrote first)."));
    // The decision bar's "still being processed" is what the holder looks at: it must not stay.
    var notices = document.querySelectorAll("[data-processing-notice]");
    for (var i = 0; i < notices.length; i += 1) {
      notices[i].textContent = "The screenshots are ready: ";
      var again = document.createElement("a");
      again.href = page;
      again.textContent = "open the page again";
      notices[i].appendChild(again);
      notices[i].appendChild(document.createTextNode(
        " to see them before you approve or reject (copy your note first)."));
    }
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
