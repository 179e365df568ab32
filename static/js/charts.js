/* Hover values on the server-drawn SVG charts: the point nearest the pointer
   is marked and its values (the <title> the server wrote) shown at once.
   Without JavaScript the browser still shows each point's <title>. */
(function () {
  "use strict";
  var REACH = 28; // SVG units: how far from a point the pointer may be
  var tip = null;

  function tooltip() {
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      document.body.appendChild(tip);
    }
    return tip;
  }

  function prepare(svg) {
    var points = Array.prototype.slice.call(svg.querySelectorAll("circle.point"));
    points.forEach(function (point) {
      var title = point.querySelector("title");
      if (title) {
        point.dataset.tip = title.textContent;
        title.remove(); // one tooltip, not the browser's too
      }
    });
    var active = null;
    function clear() {
      if (active) active.classList.remove("active");
      active = null;
      tooltip().hidden = true;
    }
    svg.addEventListener("mousemove", function (event) {
      var matrix = svg.getScreenCTM();
      if (!matrix || !points.length) return;
      var at = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      var nearest = null, best = REACH * REACH;
      points.forEach(function (point) {
        var dx = point.cx.baseVal.value - at.x, dy = point.cy.baseVal.value - at.y;
        var distance = dx * dx + dy * dy;
        if (distance <= best) { best = distance; nearest = point; }
      });
      if (!nearest) { clear(); return; }
      if (nearest !== active) {
        if (active) active.classList.remove("active");
        active = nearest;
        active.classList.add("active");
      }
      var box = tooltip();
      box.textContent = nearest.dataset.tip;
      box.style.left = event.clientX + 14 + "px";
      box.style.top = event.clientY + 14 + "px";
      box.hidden = false;
    });
    svg.addEventListener("mouseleave", clear);
  }

  function init() {
    document.querySelectorAll("svg.chart-svg").forEach(prepare);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
