"use strict";
// Draws every chart the page declares, from data the server embedded as JSON (json_script), so
// that the page needs no inline script: <canvas data-chart="StackedBar" data-chart-data="<id>">.
(function () {
  var KINDS = ["Bar", "StackedBar", "Line"];
  var OPTIONS = {
    animation: false,
    legend: true,
    annotateDisplay: true,
    yAxisMinimumInterval: 1,
    scaleFontSize: 11,
    legendFontSize: 11,
    barValueSpacing: 2,
    barShowStroke: false,
  };

  function draw(canvas) {
    var kind = canvas.getAttribute("data-chart");
    var source = document.getElementById(canvas.getAttribute("data-chart-data"));
    if (KINDS.indexOf(kind) < 0 || !source) {
      return;
    }
    new Chart(canvas.getContext("2d"))[kind](JSON.parse(source.textContent), OPTIONS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  });
})();
