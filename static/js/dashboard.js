// Draws the dashboard charts from the JSON the page embeds (Chart.js, served from static/).
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var COLORS = {
    REQUESTED: "#2563eb", WAITING: "#d97706", PROCESSING: "#7c3aed",
    ISSUED: "#15803d", DENIED: "#b91c1c", CANCELLED: "#6b7280"
  };
  var PALETTE = ["#2563eb", "#15803d", "#d97706", "#7c3aed", "#0891b2", "#b91c1c", "#4b5563", "#db2777"];
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;

  var perDay = data("data-per-day");
  new Chart(document.getElementById("chart-per-day"), {
    type: "bar",
    data: {
      labels: perDay.labels.map(function (d) { return d.slice(5); }),
      datasets: perDay.datasets.map(function (s) {
        return { label: s.label, data: s.data, backgroundColor: COLORS[s.status] };
      })
    },
    options: { responsive: true, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var perMp = data("data-per-marketplace");
  new Chart(document.getElementById("chart-per-marketplace"), {
    type: "bar",
    data: { labels: perMp.labels, datasets: [{ label: "Issued", data: perMp.data.map(Number), backgroundColor: PALETTE, maxBarThickness: 36 }] },
    options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } }
  });

  var reasons = data("data-reasons");
  new Chart(document.getElementById("chart-reasons"), {
    type: "doughnut",
    data: { labels: reasons.labels, datasets: [{ data: reasons.data, backgroundColor: PALETTE, maxBarThickness: 36 }] },
    options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "right" } } }
  });
})();
