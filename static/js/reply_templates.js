// Reply templates on the decision form (templates/staff/_decision.html). Without JavaScript they
// are a list to copy from. Here they become a picker beside the note that:
//   - offers the templates of the chosen decision (all of them, grouped, before one is chosen),
//     following the radios whether clicked or chosen with a/r/i (shortcuts.js clicks them);
//   - fills the note with the chosen template's text, asking first when the note holds text the
//     agent typed (not merely the last template's text), so nothing written is lost unasked;
//   - chooses the template's decision when none is chosen yet;
//   - puts the template's id in the hidden reply_template field, so the decision's audit event
//     names it (the server checks that it fits); a template that no longer fits the decision is
//     dropped from that field, and the note is left as it is.
(function () {
  "use strict";

  var picker = document.querySelector("[data-reply-picker]");
  var form = picker && picker.closest("form");
  if (!form) {
    return;
  }
  var select = picker.querySelector("select");
  var note = form.elements.note;
  var field = form.querySelector("[data-reply-template-field]");
  var list = document.querySelector("[data-reply-list]");
  var status = document.querySelector("[data-reply-status]");

  function textOf(selector) {
    var element = list.querySelector(selector);
    return element ? element.textContent : "";
  }

  var templates = Array.prototype.filter.call(select.options, function (option) {
    return option.value !== "";
  }).map(function (option) {
    return {
      id: option.value,
      title: option.textContent,
      decision: option.getAttribute("data-decision"),
      body: textOf('[data-template-body="' + option.value + '"]'),
    };
  });
  var decisionOrder = [];
  templates.forEach(function (template) {
    if (decisionOrder.indexOf(template.decision) === -1) {
      decisionOrder.push(template.decision);
    }
  });

  function find(id) {
    return templates.filter(function (template) { return template.id === id; })[0] || null;
  }

  function chosenDecision() {
    var checked = form.querySelector("input[name=decision]:checked");
    return checked ? checked.value : "";
  }

  function optionFor(template) {
    var option = document.createElement("option");
    option.value = template.id;
    option.textContent = template.title;
    return option;
  }

  // The note holds the text the last template put there, untouched: replacing it loses nothing.
  var filled = null;

  // Rebuilds the options for the chosen decision, keeping the chosen template if it still fits.
  function offer() {
    var decision = chosenDecision();
    var fitting = templates.filter(function (template) {
      return !decision || template.decision === decision;
    });
    while (select.options.length > 1) {
      select.remove(1);
    }
    Array.prototype.slice.call(select.querySelectorAll("optgroup")).forEach(function (group) {
      group.remove();
    });
    select.options[0].textContent = select.getAttribute(
      fitting.length ? "data-empty-label" : "data-none-label");
    if (decision) {
      fitting.forEach(function (template) { select.appendChild(optionFor(template)); });
    } else {
      decisionOrder.forEach(function (name) {
        var group = document.createElement("optgroup");
        group.label = textOf('[data-decision-label="' + name + '"]');
        fitting.forEach(function (template) {
          if (template.decision === name) {
            group.appendChild(optionFor(template));
          }
        });
        select.appendChild(group);
      });
    }
    var current = find(field.value);
    if (current && fitting.indexOf(current) !== -1) {
      select.value = current.id;
    } else {
      select.value = "";
      field.value = "";
    }
  }

  function choose(template) {
    var typed = note.value.trim() !== "" && note.value !== filled;
    if (typed && !window.confirm("Replace the note you wrote with the template “" + template.title + "”?")) {
      select.value = find(field.value) ? field.value : "";
      return;
    }
    note.value = template.body;
    filled = template.body;
    field.value = template.id;
    note.dispatchEvent(new Event("input", { bubbles: true }));
    if (!chosenDecision()) {
      var radio = form.querySelector('input[name=decision][value="' + template.decision + '"]');
      if (radio) {
        radio.click();  // a click, as a person's: the radios' own listeners hear it
      }
    }
    if (status) {
      status.textContent = "The note now holds the template “" + template.title + "”; edit it as you need.";
    }
  }

  select.addEventListener("change", function () {
    var template = find(select.value);
    if (template) {
      choose(template);
    } else {
      field.value = "";  // "Write your own": the note stays, and names no template
    }
  });

  form.addEventListener("change", function (event) {
    if (event.target.name === "decision") {
      offer();
    }
  });

  // After a refused round the page comes back with the field and note as sent.
  var kept = find(field.value);
  if (kept && note.value === kept.body) {
    filled = kept.body;
  }
  offer();
  picker.hidden = false;
  list.hidden = true;
})();
