// "Autour de moi": asks the browser for the position, rounds it to two decimals (about a
// kilometre) and only then sends it, as ?pres=lat,lon, to sort the places by distance.
(function () {
  "use strict";
  var button = document.getElementById("autour");
  var explanation = document.getElementById("autour-explication");
  var status = document.getElementById("autour-etat");
  if (!button || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  explanation.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "Recherche de votre position…";
    navigator.geolocation.getCurrentPosition(function (position) {
      var rounded = position.coords.latitude.toFixed(2) + "," + position.coords.longitude.toFixed(2);
      var params = new URLSearchParams(window.location.search);
      params.delete("q");
      params.set("pres", rounded);
      window.location.assign(window.location.pathname + "?" + params.toString());
    }, function (error) {
      status.textContent = (error.code === 1 ? "Position refusée" : "Position introuvable") +
        " : tapez plutôt votre commune ou votre code postal.";
    }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 });
  });
})();
