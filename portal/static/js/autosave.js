// Autosave for the questionnaire: each answer saves itself a few seconds after typing stops.
// Progressive enhancement: without this file the page's Save buttons post the same data.
(function () {
  "use strict";
  var DELAY_MS = 2500;
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  if (!tokenMeta || !window.fetch) { return; }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function setup(box) {
    var url = box.getAttribute("data-autosave-url");
    var statusLine = box.querySelector("[data-saved-status]");
    var version = box.querySelector("input[type=hidden][name$='-version']");
    var timer = null;
    var inFlight = false;
    var pending = false;

    function value(suffix) {
      var inputs = box.querySelectorAll("[name$='-" + suffix + "']");
      for (var i = 0; i < inputs.length; i++) {
        var el = inputs[i];
        if (el.type === "radio") { if (el.checked) { return el.value; } } else { return el.value; }
      }
      return "";
    }

    function show(text, isError) {
      statusLine.textContent = text;
      statusLine.classList.toggle("text-secondary-dark", !!isError);
    }

    function save() {
      if (inFlight) { pending = true; return; }
      inFlight = true;
      var body = new URLSearchParams();
      body.set("status", value("status"));
      body.set("narrative", value("narrative"));
      body.set("justification", value("justification"));
      body.set("version", version ? version.value : "");
      show("Saving...");
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": tokenMeta.content, "Accept": "application/json" },
        body: body
      }).then(function (response) {
        return response.json().then(function (data) { return { status: response.status, data: data }; });
      }).then(function (result) {
        var data = result.data;
        if (data.ok) {
          if (version) { version.value = data.version; }
          var at = new Date(data.saved_at);
          show("Saved at " + two(at.getHours()) + ":" + two(at.getMinutes()));
        } else if (data.conflict) {
          show("Not saved: " + (data.by || "someone else") + " changed this answer. Their text: \u201c" +
               (data.theirs || "") + "\u201d. Reload the page, or press Save to keep yours.", true);
          if (version && data.version) { version.value = data.version; }
        } else {
          show("Not saved: " + (data.error || "please use the Save button."), true);
        }
      }).catch(function () {
        show("Not saved: the connection failed. Your text is still here; press Save to try again.", true);
      }).then(function () {
        inFlight = false;
        if (pending) { pending = false; save(); }
      });
    }

    function schedule() {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(save, DELAY_MS);
    }
    box.addEventListener("input", schedule);
    box.addEventListener("change", schedule);
  }

  var boxes = document.querySelectorAll("[data-autosave-url]");
  for (var i = 0; i < boxes.length; i++) { setup(boxes[i]); }
})();
