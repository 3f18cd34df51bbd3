// Network first for the hall screens; the last good copy when the network drops.
var CACHE = "maillage-ecran-v1";

self.addEventListener("install", function (event) { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  var mine = url.origin === self.location.origin &&
    (url.pathname.indexOf("/ecran/") === 0 || url.pathname.indexOf("/static/") === 0);
  if (!mine) { return; }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) {
        return cache.match(url.pathname).then(function (hit) {
          if (!hit) { return Response.error(); }
          // Mark the copy so that the page's own refresh knows it is not fresh.
          var headers = new Headers(hit.headers);
          headers.set("X-Maillage-Offline-Copy", "1");
          return hit.blob().then(function (body) {
            return new Response(body, { status: hit.status, statusText: hit.statusText, headers: headers });
          });
        });
      });
    })
  );
});
