// The run upload's drop zone: drop a file (or pick one), see its name and size, then submit.
// No framework: the file input does the work, this only routes a drop to it and says what was chosen.
(function () {
  "use strict";

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " kB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("[data-dropzone-input]");
    var shown = zone.querySelector("[data-dropzone-file]");
    if (!input) return;

    function update() {
      var file = input.files && input.files[0];
      zone.classList.toggle("dropzone-has-file", Boolean(file));
      if (shown) {
        shown.hidden = !file;
        shown.textContent = file ? file.name + " · " + size(file.size) : "";
      }
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
        zone.classList.add("dropzone-over");
      });
    });
    zone.addEventListener("dragleave", function (event) {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dropzone-over");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dropzone-over");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      // One run per file: only the first of several dropped files is taken.
      var transfer = new DataTransfer();
      transfer.items.add(files[0]);
      input.files = transfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    input.addEventListener("change", update);
    update();
  });

  // A file dropped beside the zone would make the browser leave the page to open it.
  if (document.querySelector("[data-dropzone]")) {
    ["dragover", "drop"].forEach(function (name) {
      window.addEventListener(name, function (event) {
        if (!event.target.closest || !event.target.closest("[data-dropzone]")) event.preventDefault();
      });
    });
  }

  document.querySelectorAll("[data-upload-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-upload-submit]");
      var busy = form.querySelector("[data-upload-busy]");
      // Disabled after the submit has started, so the click still sends the form once, and only once.
      window.setTimeout(function () {
        if (button) button.disabled = true;
        if (busy) busy.hidden = false;
      }, 0);
    });
  });
})();
