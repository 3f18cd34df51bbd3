// The builder's preview does what the snippet does in the host page: the frame takes its
// content's height.
(function () {
  "use strict";
  window.addEventListener("message", function (e) {
    if (e.origin !== window.location.origin || !e.data || e.data.type !== "maillage-hauteur") { return; }
    document.querySelectorAll("iframe[data-maillage]").forEach(function (frame) {
      if (frame.contentWindow === e.source) { frame.style.height = Math.ceil(e.data.height) + "px"; }
    });
  });
})();
