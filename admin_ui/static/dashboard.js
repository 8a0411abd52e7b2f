// Draws the dashboard's points chart from the JSON the page embeds (no build step, no network).
(function () {
  var data = JSON.parse(document.getElementById("points-data").textContent);
  var canvas = document.getElementById("points-chart");
  var numbers = function (list) { return list.map(Number); };
  var colours = ["#2f7d5b", "#3563b8", "#b8563a"];
  canvas.chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [data.issued, data.spent, data.expired].map(function (values, i) {
        return { label: data.names[i], data: numbers(values), backgroundColor: colours[i] };
      })
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      locale: document.documentElement.lang,
      scales: { x: { ticks: { maxRotation: 0, autoSkip: true } }, y: { beginAtZero: true } },
      plugins: { legend: { position: "bottom" } }
    }
  });
})();
