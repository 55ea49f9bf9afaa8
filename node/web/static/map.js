// Maillage: the search results' map, drawn over their list (the list stays: it is the accessible version).
// Tiles only from the tile server the association configured (data-tiles, "{z}/{x}/{y}" template);
// without one, markers are placed on a plain background. No library, no third party by default.
(function () {
  "use strict";
  var box = document.getElementById("carte");
  if (!box) { return; }
  var points;
  try { points = JSON.parse(box.getAttribute("data-points") || "[]"); } catch (e) { return; }
  points = points.filter(function (p) { return isFinite(parseFloat(p.lat)) && isFinite(parseFloat(p.lon)); });
  if (!points.length) { return; }
  var tiles = box.getAttribute("data-tiles") || "";
  var TILE = 256, HEIGHT = 320, MAX_ZOOM = 16;

  function project(lat, lon, zoom) {  // Web Mercator, in pixels at this zoom
    var size = TILE * Math.pow(2, zoom);
    var s = Math.sin(Math.max(-85, Math.min(85, lat)) * Math.PI / 180);
    return { x: (lon + 180) / 360 * size, y: (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size };
  }

  var all = points.slice();
  var center = (box.getAttribute("data-center") || "").split(",");
  if (center.length === 2 && isFinite(parseFloat(center[0])) && isFinite(parseFloat(center[1]))) {
    all.push({ lat: center[0], lon: center[1], here: true });
  }
  var width = Math.max(200, box.clientWidth || 600);
  var zoom = MAX_ZOOM;
  for (; zoom > 1; zoom--) {  // the largest zoom at which every point fits, with a margin
    var xs = all.map(function (p) { return project(+p.lat, +p.lon, zoom).x; });
    var ys = all.map(function (p) { return project(+p.lat, +p.lon, zoom).y; });
    if (Math.max.apply(null, xs) - Math.min.apply(null, xs) < width - 60 &&
        Math.max.apply(null, ys) - Math.min.apply(null, ys) < HEIGHT - 60) { break; }
  }
  var px = all.map(function (p) { return project(+p.lat, +p.lon, zoom); });
  var midX = (Math.min.apply(null, px.map(function (q) { return q.x; })) + Math.max.apply(null, px.map(function (q) { return q.x; }))) / 2;
  var midY = (Math.min.apply(null, px.map(function (q) { return q.y; })) + Math.max.apply(null, px.map(function (q) { return q.y; }))) / 2;
  var left = midX - width / 2, top = midY - HEIGHT / 2;

  var map = document.createElement("div");
  map.setAttribute("aria-hidden", "true");  // the list below says the same, for every reader
  map.className = "carte-dessin";
  var st = map.style;
  st.position = "relative"; st.overflow = "hidden"; st.width = "100%"; st.height = HEIGHT + "px";
  st.background = "#e8eef2"; st.border = "1px solid #c9d1d9"; st.marginBottom = ".5rem";

  if (tiles) {
    var count = Math.pow(2, zoom);
    for (var tx = Math.floor(left / TILE); tx <= Math.floor((left + width) / TILE); tx++) {
      for (var ty = Math.floor(top / TILE); ty <= Math.floor((top + HEIGHT) / TILE); ty++) {
        if (ty < 0 || ty >= count) { continue; }
        var img = document.createElement("img");
        img.alt = "";
        img.width = TILE; img.height = TILE;
        img.src = tiles.replace("{z}", zoom).replace("{x}", ((tx % count) + count) % count).replace("{y}", ty);
        img.style.position = "absolute";
        img.style.left = (tx * TILE - left) + "px";
        img.style.top = (ty * TILE - top) + "px";
        map.appendChild(img);
      }
    }
    var credit = document.createElement("p");
    credit.className = "hint";
    try { credit.textContent = (box.getAttribute("data-attribution") || "") + " (" + new URL(tiles.replace(/[{}]/g, "")).host + ")"; }
    catch (e) { credit.textContent = box.getAttribute("data-attribution") || ""; }
    box.appendChild(credit);
  }

  all.forEach(function (p, i) {
    var at = px[i];
    var mark = document.createElement(p.here ? "span" : "a");
    if (!p.here) {
      mark.href = p.href;
      mark.tabIndex = -1;
      mark.title = p.title + (p.association ? " — " + p.association : "");
    }
    mark.textContent = p.here ? "✚" : "●";
    var ms = mark.style;
    ms.position = "absolute"; ms.transform = "translate(-50%, -50%)"; ms.textDecoration = "none";
    ms.fontSize = p.here ? "1.1rem" : "1.4rem"; ms.lineHeight = "1";
    ms.color = p.here ? "#1b1f23" : "#0b5c3b";
    ms.left = (at.x - left) + "px"; ms.top = (at.y - top) + "px";
    map.appendChild(mark);
  });
  box.insertBefore(map, box.firstChild);
})();
