// The import page.
// 1. The upload form: shows the upload's progress, then what the server answers: the preview of a
//    small file (the page replaced by it), or the page of a big file's job (followed).
// 2. A job's page: polls the job's state and moves the bar as the server works (reading, writing,
//    checking overlaps), then loads the outcome. Without this script the page reloads itself.
(function () {
  var form = document.getElementById("import-form");
  if (form && window.XMLHttpRequest && window.FormData) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = document.getElementById(form.getAttribute("data-progress"));
      var bar = box.querySelector("progress");
      var said = box.querySelector("span");
      box.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          said.textContent = bar.value + " % envoyés";
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  // indeterminate while the server reads the file
        said.textContent = "Fichier envoyé, analyse en cours…";
      });
      xhr.addEventListener("load", function () {
        var sent = new URL(form.action || window.location.href, window.location.href);
        if (xhr.responseURL && new URL(xhr.responseURL).pathname !== sent.pathname) {
          window.location.assign(xhr.responseURL);  // a big file: its job's page, with its own address
          return;
        }
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        said.textContent = "L'envoi a échoué : vérifiez la connexion et réessayez.";
      });
      xhr.send(new FormData(form));
    });
  }

  var job = document.getElementById("import-job");
  if (job && window.fetch) {
    var bar = document.getElementById("import-job-bar");
    var phase = document.getElementById("import-job-phase");
    var count = document.getElementById("import-job-count");
    var poll = function () {
      fetch(job.getAttribute("data-status"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (state) {
          if (state.finished) {
            window.location.reload();  // the preview to confirm, or the outcome
            return;
          }
          bar.value = state.percent;
          if (phase.textContent !== state.label) phase.textContent = state.label;  // announced once a phase
          count.textContent = state.percent + " %" + (state.total ? " — " + state.done + " / " + state.total : "");
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
