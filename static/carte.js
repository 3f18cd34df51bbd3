// The map of /carte: one marker per place of the list beside it (the list is the data and the
// accessible alternative). Markers are reached with Tab and open with Enter (Leaflet's keyboard
// support); the map pans with the arrow keys once focused.
(function () {
  "use strict";
  var element = document.getElementById("carte");
  if (!element || !window.L) {
    return;
  }
  var escape = function (text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  };
  var map = L.map(element, { keyboard: true, scrollWheelZoom: false });
  L.tileLayer(element.dataset.tiles, {
    maxZoom: 19,
    attribution: escape(element.dataset.attribution || ""),
  }).addTo(map);
  map.attributionControl.setPrefix(false);
  var points = [];
  document.querySelectorAll("#lieux-carte > li[data-lat]").forEach(function (item) {
    var point = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    var marker = L.marker(point, { title: item.dataset.name, alt: item.dataset.name, keyboard: true });
    var popup = document.createElement("div");
    var heading = item.querySelector("h3 a").cloneNode(true);
    var title = document.createElement("p");
    title.className = "popup-title";
    title.appendChild(heading);
    popup.appendChild(title);
    var next = item.querySelector(".occ .when");
    if (next) {
      var when = document.createElement("p");
      when.textContent = "Prochain rendez-vous : " + next.textContent.trim();
      popup.appendChild(when);
    }
    marker.bindPopup(popup).addTo(map);
    points.push(point);
  });
  if (points.length) {
    map.fitBounds(points, { padding: [30, 30], maxZoom: 15 });
  } else {
    map.setView([46.6, 2.4], 5);
  }
})();
