// Sharing an event: the phone's own share sheet (Web Share API) where there is one; everywhere,
// the page's link to copy, with a button where the clipboard can be written.
(function () {
  "use strict";
  var share = document.getElementById("partage");
  var copy = document.getElementById("copier");
  var link = document.getElementById("lien");
  var status = document.getElementById("partage-etat");
  if (!share || !link) {
    return;
  }
  if (navigator.share) {
    share.hidden = false;
    share.addEventListener("click", function () {
      navigator.share({ title: share.dataset.title, url: share.dataset.url }).catch(function () {});
    });
  }
  if (navigator.clipboard && window.isSecureContext) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(link.value).then(function () {
        status.textContent = "Lien copié : collez-le dans un message.";
      }, function () {
        link.select();
        status.textContent = "Sélectionnez le lien et copiez-le.";
      });
    });
  }
  link.addEventListener("focus", function () { link.select(); });
})();
