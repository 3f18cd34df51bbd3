// The hall screen: refreshes itself, and when the network drops keeps showing the last programme
// with the time it was loaded. The page shows the programme without this script.
(function () {
  "use strict";
  var status = document.querySelector(".screen-head .status");
  var programme = document.getElementById("programme");
  if (!status || !programme) { return; }
  var every = Math.max(10, parseInt(status.getAttribute("data-refresh-seconds"), 10) || 300) * 1000;
  var loadedAt = new Date();

  function hhmm(d) { return d.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" }); }
  function showFresh() {
    status.classList.remove("offline");
    status.textContent = "Programme à jour (" + hhmm(loadedAt) + ")";
  }
  function showOffline() {
    status.classList.add("offline");
    status.textContent = "Hors connexion : programme chargé à " + hhmm(loadedAt);
  }

  function refresh() {
    return fetch(window.location.href, { cache: "no-store", headers: { "X-Maillage-Screen": "1" } })
      .then(function (response) {
        if (!response.ok || response.headers.get("X-Maillage-Offline-Copy")) { throw new Error("offline"); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("programme");
        if (!fresh) { throw new Error("no programme"); }
        programme.replaceChildren.apply(programme, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
          return document.importNode(n, true);
        }));
        loadedAt = new Date();
        fit();
        try { localStorage.setItem("maillage-screen-loaded:" + location.pathname, loadedAt.toISOString()); } catch (e) {}
        showFresh();
      })
      .catch(showOffline);
  }
  window.maillageScreenRefresh = refresh;

  // The next dates until the screen is full: the first one that does not fit (below or right of
  // the programme's box, which flows into columns) and every later one are hidden, then the days
  // left empty.
  function fit() {
    var box = programme.getBoundingClientRect();
    programme.querySelectorAll(".fits-not").forEach(function (e) { e.classList.remove("fits-not"); });
    var full = false;
    programme.querySelectorAll(".occ").forEach(function (item) {
      var r = item.getBoundingClientRect();
      if (full || r.right > box.right + 1 || r.bottom > box.bottom + 1) {
        full = true;
        item.classList.add("fits-not");
      }
    });
    programme.querySelectorAll(".day").forEach(function (day) {
      if (!day.querySelector(".occ:not(.fits-not)")) { day.classList.add("fits-not"); }
    });
  }
  window.maillageScreenFit = fit;
  var clock = document.getElementById("horloge");
  function tick() {
    if (clock) { clock.textContent = hhmm(new Date()); }
  }
  tick();
  setInterval(tick, 10000);
  fit();
  window.addEventListener("resize", fit);

  // Loaded from the service worker's copy while offline: tell when that copy was fetched.
  var stored = null;
  try { stored = localStorage.getItem("maillage-screen-loaded:" + location.pathname); } catch (e) {}
  if (!navigator.onLine && stored) { loadedAt = new Date(stored); showOffline(); }
  else {
    try { localStorage.setItem("maillage-screen-loaded:" + location.pathname, loadedAt.toISOString()); } catch (e) {}
    showFresh();
  }
  window.addEventListener("offline", showOffline);
  window.addEventListener("online", refresh);
  setInterval(refresh, every);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/ecran/sw.js", { scope: "/ecran/" }).catch(function () {});
  }
}());
