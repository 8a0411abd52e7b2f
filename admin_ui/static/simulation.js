// Draws a simulation's charts after htmx puts its result on the page (Chart.js, vendored).
(function () {
  function draw(root) {
    var canvases = root.querySelectorAll("canvas.sim-chart");
    canvases.forEach(function (canvas) {
      var data = JSON.parse(canvas.parentNode.nextElementSibling.textContent);
      var colours = ["#3563b8", "#2f7d5b"];
      canvas.chart = new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels.map(function (l) { return l || "—"; }),
          datasets: data.series.map(function (s, i) {
            return { label: s.label, data: s.values.map(Number), backgroundColor: colours[i] };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   locale: document.documentElement.lang, indexAxis: "y",
                   plugins: { legend: { position: "bottom" } } }
      });
    });
  }
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "simulation") { draw(event.detail.target); }
  });
})();
