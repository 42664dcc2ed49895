// Tells the desk the browser's time zone: a `tz` cookie with its IANA name (e.g. Europe/Berlin),
// which the server uses for users who have not chosen a zone in their settings (see
// web.viewer_time_zone). Rewritten only when it differs, so a laptop that travels follows along
// from its next page on; the page that sets it was still rendered with the old zone.
(function () {
  "use strict";

  var NAME = "tz";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  // IANA names only: letters, digits, "/", "_", "+", "-" (also all safe in a cookie unquoted).
  if (!zone || zone.length > 64 || !/^[A-Za-z0-9_+\/-]+$/.test(zone)) {
    return;
  }

  var current = null;
  document.cookie.split(";").forEach(function (pair) {
    var parts = pair.trim().split("=");
    if (parts[0] === NAME) {
      current = parts.slice(1).join("=");
    }
  });
  if (current === zone) {
    return;
  }
  document.cookie = NAME + "=" + zone + "; Path=/; Max-Age=31536000; SameSite=Lax" +
    (window.location.protocol === "https:" ? "; Secure" : "");
})();
