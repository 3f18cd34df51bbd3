// The import form: shows the upload's progress, then the preview page the server answers.
(function () {
  var form = document.getElementById("import-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
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
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      said.textContent = "L'envoi a échoué : vérifiez la connexion et réessayez.";
    });
    xhr.send(new FormData(form));
  });
})();
