// The widget, framed in another site's page: its accent colour (checked for contrast by the
// server), and its height sent to the host page, whose snippet (given by /widget/) sets the
// iframe's height, so that nothing scrolls inside the frame.
(function () {
  "use strict";
  var accent = document.body.getAttribute("data-accent");
  if (accent) {
    document.body.style.setProperty("--accent", "#" + accent);
  }
  if (window.parent === window) {
    return;
  }
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: "maillage-hauteur", height: height }, "*");
    }
  }
  if ("ResizeObserver" in window) {
    new ResizeObserver(send).observe(document.body);
  }
  window.addEventListener("load", send);
  send();
})();
