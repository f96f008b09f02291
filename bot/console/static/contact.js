// The unit contact's uploads: drag and drop, several files, a progress bar. Without this
// script the same forms post as plain multipart forms and the page comes back.
(function () {
  "use strict";

  function show(list, outcomes) {
    list.replaceChildren();
    outcomes.forEach(function (outcome) {
      var li = document.createElement("li");
      li.className = outcome.ok ? "ok" : "bad";
      li.textContent = outcome.text;
      list.appendChild(li);
    });
  }

  function added(files, outcomes) {
    var none = files.querySelector(".none");
    outcomes.forEach(function (outcome) {
      if (!outcome.ok) return;
      if (none) { none.remove(); none = null; }
      var li = document.createElement("li");
      li.textContent = outcome.name;
      files.appendChild(li);
    });
  }

  function wire(form) {
    var box = form.closest(".evidence");
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("progress");
    var drop = form.querySelector(".drop");
    var outcomes = box.querySelector("[data-outcomes]");

    function send(files) {
      if (!files || !files.length) return;
      var data = new FormData();
      var csrf = form.querySelector("input[name=csrf]");
      if (csrf) data.append("csrf", csrf.value);
      Array.prototype.forEach.call(files, function (file) { data.append("file", file, file.name); });
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      show(outcomes, [{ ok: true, text: form.dataset.uploading }]);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
      });
      request.addEventListener("load", function () {
        bar.hidden = true;
        input.value = "";
        var answer = null;
        try { answer = JSON.parse(request.responseText); } catch (error) { answer = null; }
        if (request.status !== 200 || !answer) {
          show(outcomes, [{ ok: false, text: form.dataset.failed }]);
          return;
        }
        show(outcomes, answer.files);
        added(box.querySelector("[data-files]"), answer.files);
      });
      request.addEventListener("error", function () {
        bar.hidden = true;
        show(outcomes, [{ ok: false, text: form.dataset.failed }]);
      });
      request.send(data);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(input.files);
    });
    input.addEventListener("change", function () { send(input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      send(event.dataTransfer.files);
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(wire);
})();
