// The seller's forms with screenshots (form[data-uploads]), enhanced. Without this script they post
// as plain forms and the browser forgets the chosen files on every failed round; with it:
// - the file input keeps a list: a second pick adds to it, each file has a preview and a Remove
//   button, and input.files is kept equal to the list (DataTransfer);
// - each file is checked here first against the limits the server renders into data- attributes
//   (type by declared MIME and by its first bytes, size of each, size together, how many), so a
//   wrong file is named at once; the server still checks everything;
// - the form is sent by XMLHttpRequest with a progress bar; a refused round (422) has its error
//   summary and field errors taken from the server's page (the parts marked data-swap), so the
//   typed text and the chosen files stay where they are.
(function () {
  "use strict";

  try {
    new DataTransfer();  // no constructor (old Safari): leave the plain form alone
  } catch (error) {
    return;
  }

  var MB = 1048576;
  var NOT_AN_IMAGE = " is not a PNG, JPEG, WebP or GIF image.";
  var count = new Intl.NumberFormat("en");

  // As the server writes sizes (storage._size): three significant digits.
  function size(bytes) {
    if (bytes >= MB) return Number((bytes / MB).toPrecision(3)) + " MB";
    if (bytes >= 1024) return Number((bytes / 1024).toPrecision(3)) + " KB";
    return bytes + " bytes";
  }

  function quoted(file) {
    return "\u201c" + file.name + "\u201d";
  }

  function plural(n, word) {
    return count.format(n) + " " + word + (n === 1 ? "" : "s");
  }

  // The type the first bytes say, or null: the four formats the server accepts.
  function sniff(bytes) {
    var text = String.fromCharCode.apply(null, bytes);
    if (text.slice(0, 8) === "\x89PNG\r\n\x1a\n") return "image/png";
    if (text.slice(0, 3) === "\xff\xd8\xff") return "image/jpeg";
    if (text.slice(0, 6) === "GIF87a" || text.slice(0, 6) === "GIF89a") return "image/gif";
    if (text.slice(0, 4) === "RIFF" && text.slice(8, 12) === "WEBP") return "image/webp";
    return null;
  }

  function firstBytes(file) {
    var head = file.slice(0, 12);
    if (!head.arrayBuffer) return Promise.resolve(null);  // cannot look: the server will
    return head.arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); },
                                   function () { return null; });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file][data-max-files]");
    if (!input) return;
    var limits = {
      files: parseInt(input.getAttribute("data-max-files"), 10),
      fileBytes: parseInt(input.getAttribute("data-max-file-bytes"), 10),
      totalBytes: parseInt(input.getAttribute("data-max-total-bytes"), 10)
    };
    var accepted = (input.getAttribute("accept") || "").split(",");
    var chosen = [];  // {file, url}
    var checking = Promise.resolve();
    var busy = false;

    // What the script adds: browser-side errors (tied to the input), the previews, a status line,
    // and the progress of a send.
    var errors = element("div", "upload-errors");
    errors.id = input.id + "-checks";
    errors.setAttribute("aria-live", "polite");
    var previews = element("ul", "upload-previews");
    previews.setAttribute("aria-label", "Chosen screenshots");
    var status = element("p", "upload-status muted small");
    status.id = input.id + "-chosen";
    status.setAttribute("aria-live", "polite");
    // Below the server's messages for the field, where there are any.
    (form.querySelector("[data-swap='" + input.id + "-errors']") || input).after(errors, status, previews);

    var progress = element("div", "upload-progress");
    progress.hidden = true;
    var progressLabel = element("label", null, "Sending");
    var bar = element("progress");
    bar.id = progressLabel.htmlFor = input.id + "-progress";
    bar.max = 100;
    bar.value = 0;
    var progressText = element("p", "small", "");
    progressText.setAttribute("aria-live", "polite");
    progress.append(progressLabel, bar, progressText);
    var failure = element("p", "notice notice-error upload-failure");
    failure.setAttribute("role", "alert");
    failure.hidden = true;
    var actions = form.querySelector(".form-actions");
    var submit = actions.querySelector("[type=submit]");
    form.insertBefore(progress, actions);
    form.insertBefore(failure, actions);

    // The input names the server's hint and errors; ours are added to them.
    function describe() {
      var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && id !== errors.id && id !== status.id;
      });
      ids.push(status.id);
      if (errors.childElementCount) ids.push(errors.id);
      input.setAttribute("aria-describedby", ids.join(" "));
      var serverErrors = form.querySelector("[data-swap=" + input.id + "-errors] .field-error");
      if (errors.childElementCount || serverErrors) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
    }

    function sync() {
      var transfer = new DataTransfer();
      chosen.forEach(function (item) { transfer.items.add(item.file); });
      input.files = transfer.files;
    }

    function total() {
      return chosen.reduce(function (sum, item) { return sum + item.file.size; }, 0);
    }

    function render() {
      previews.replaceChildren();
      chosen.forEach(function (item, index) {
        var entry = element("li");
        var image = element("img");
        image.src = item.url;
        image.alt = "";  // the name beside it says which file it is
        image.addEventListener("error", function () { image.hidden = true; });
        var name = element("span", "upload-name", item.file.name);
        name.title = item.file.name;
        var remove = element("button", "upload-remove", "Remove");
        remove.type = "button";
        remove.setAttribute("aria-label", "Remove " + item.file.name);
        remove.addEventListener("click", function () { drop(index); });
        entry.append(image, name, element("span", "muted small", size(item.file.size)), remove);
        previews.append(entry);
      });
      previews.hidden = chosen.length === 0;
      status.textContent = chosen.length
        ? plural(chosen.length, "screenshot") + " chosen (" + size(total()) + "); choose more to add them."
        : "";
      describe();
    }

    function drop(index) {
      var item = chosen.splice(index, 1)[0];
      URL.revokeObjectURL(item.url);
      errors.replaceChildren();
      sync();
      render();
      status.textContent = quoted(item.file) + " removed. " + status.textContent;
      // Focus stays in the list: the next file's button, else the previous one, else the input.
      var buttons = previews.querySelectorAll(".upload-remove");
      (buttons[Math.min(index, buttons.length - 1)] || input).focus();
    }

    function refuse(messages) {
      errors.replaceChildren.apply(errors, messages.map(function (message) {
        return element("p", "field-error", message);
      }));
    }

    // The browser has just replaced input.files with the new pick: add what passes to the list.
    function add(picked) {
      var messages = [];
      return Promise.all(picked.map(function (file) {
        return firstBytes(file).then(function (bytes) { return {file: file, bytes: bytes}; });
      })).then(function (results) {
        results.forEach(function (result) {
          var file = result.file;
          var seen = chosen.some(function (item) {
            return item.file.name === file.name && item.file.size === file.size &&
              item.file.lastModified === file.lastModified;
          });
          var type = result.bytes && sniff(result.bytes);
          var message = null;
          if (seen) {
            message = quoted(file) + " is already chosen.";
          } else if (file.size === 0) {
            message = quoted(file) + " is empty.";
          } else if ((file.type && accepted.indexOf(file.type) < 0) ||
                     (result.bytes && !type)) {
            message = quoted(file) + NOT_AN_IMAGE;
          } else if (file.size > limits.fileBytes) {
            message = quoted(file) + " is larger than " + size(limits.fileBytes) + ".";
          } else if (chosen.length >= limits.files) {
            message = "You can attach at most " + plural(limits.files, "screenshot") + "; " +
              quoted(file) + " was not added.";
          } else if (total() + file.size > limits.totalBytes) {
            message = "Together the screenshots would be larger than " + size(limits.totalBytes) +
              "; " + quoted(file) + " was not added.";
          }
          if (message) {
            messages.push(message);
          } else {
            chosen.push({file: file, url: URL.createObjectURL(file)});
          }
        });
        refuse(messages);
        sync();
        render();
      });
    }

    input.addEventListener("change", function () {
      var picked = Array.prototype.slice.call(input.files);
      sync();  // a cancelled pick empties the input in some browsers: the list stays
      checking = checking.then(function () { return add(picked); }).catch(function () {});
    });

    function done(text) {
      busy = false;
      submit.removeAttribute("aria-disabled");
      form.removeAttribute("aria-busy");
      progress.hidden = true;
      if (text) {
        failure.textContent = text;
        failure.hidden = false;
      }
    }

    // A refused round: the server's summary and field errors replace ours; text and files stay.
    function showErrors(page) {
      var fresh = page.querySelector("form[data-uploads]");
      if (!fresh) {
        // No form to fix any more (the review cannot be challenged, the question was answered
        // meanwhile): show the server's page as it is.
        var main = page.querySelector("main");
        if (main) document.querySelector("main").replaceChildren.apply(
          document.querySelector("main"), Array.prototype.map.call(main.childNodes, function (node) {
            return document.importNode(node, true);
          }));
        document.querySelector("main").focus();
        return;
      }
      form.querySelectorAll("[data-swap]").forEach(function (slot) {
        var other = fresh.querySelector("[data-swap='" + slot.getAttribute("data-swap") + "']");
        slot.replaceChildren.apply(slot, other ? Array.prototype.map.call(other.childNodes,
          function (node) { return document.importNode(node, true); }) : []);
      });
      fresh.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (field) {
        var here = document.getElementById(field.id);
        if (!here || !form.contains(here)) return;
        ["aria-invalid", "aria-describedby"].forEach(function (name) {
          if (field.hasAttribute(name)) here.setAttribute(name, field.getAttribute(name));
          else here.removeAttribute(name);
        });
      });
      var token = fresh.querySelector("input[name=csrf_token]");
      var ours = form.querySelector("input[name=csrf_token]");
      if (token && ours) ours.value = token.value;
      var kept = form.querySelector("[data-kept-text]");
      if (kept) kept.textContent = kept.getAttribute("data-kept-text");
      describe();
      var target = form.querySelector(".error-summary") || form.querySelector(".field-error");
      if (target) {
        target.setAttribute("tabindex", "-1");
        target.focus();
      }
    }

    function answered(xhr) {
      if (xhr.status === 204 && xhr.getResponseHeader("Location")) {
        progressText.textContent = "Sent. Opening your request\u2026";
        window.location.assign(new URL(xhr.getResponseHeader("Location"), window.location.href));
        return;
      }
      if (xhr.status === 200) {  // a redirect followed, such as to sign in again
        window.location.assign(xhr.responseURL);
        return;
      }
      var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      if (xhr.status === 422 || xhr.status === 409) {
        done();
        showErrors(page);
      } else if (xhr.status >= 500) {
        done("The desk could not take the form just now (error " + xhr.status + "). Your text " +
             "and screenshots are still here: try again in a minute.");
      } else {
        // The server's own words from its error page (too large, expired form, too many tries).
        var said = page.querySelector("main h1 + p");
        done((said ? said.textContent.trim() + " " : "") + "Your text and screenshots are still here.");
      }
    }

    function send() {
      busy = true;
      submit.setAttribute("aria-disabled", "true");  // not disabled: it would lose the focus
      failure.hidden = true;
      form.setAttribute("aria-busy", "true");
      bar.value = 0;
      progressLabel.textContent = chosen.length
        ? "Uploading " + plural(chosen.length, "screenshot") + " (" + size(total()) + ")"
        : "Sending";
      progressText.textContent = "0% sent";
      progress.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.href);
      // Tells the server to answer a success with 204 + Location instead of a redirect.
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      var announced = 0;
      xhr.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) return;
        var percent = Math.floor(100 * event.loaded / event.total);
        bar.value = percent;
        if (percent === 100) {
          progressText.textContent = "Uploaded; checking the screenshots\u2026";
        } else if (percent >= announced + 25) {  // a screen reader hears quarters, not every step
          announced = percent - percent % 25;
          progressText.textContent = percent + "% sent";
        }
      });
      xhr.addEventListener("load", function () { answered(xhr); });
      xhr.addEventListener("error", function () {
        done("The form could not be sent: the connection failed. Your text and screenshots are " +
             "still here: check your connection and send it again.");
      });
      xhr.send(new FormData(form));
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      checking.then(send);
    });

    // Files the browser kept (going back to the page) start the list.
    var kept = Array.prototype.slice.call(input.files);
    sync();
    checking = add(kept);
  }

  document.querySelectorAll("form[data-uploads]").forEach(enhance);
})();
