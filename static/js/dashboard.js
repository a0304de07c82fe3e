// Draws the dashboard charts from the JSON the page embeds (Chart.js, served from static/).
// Every bar opens the queue with the refunds behind it (the same links as the tables below the
// charts, which stay the way to get there without a pointer or without JavaScript).
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var COLORS = {
    REQUESTED: "#2563eb", WAITING: "#d97706", PROCESSING: "#7c3aed",
    ISSUED: "#15803d", DENIED: "#b91c1c", CANCELLED: "#6b7280"
  };
  var PALETTE = ["#2563eb", "#15803d", "#d97706", "#7c3aed", "#0891b2", "#b91c1c", "#4b5563", "#db2777"];
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  function openOnClick(urlFor) {
    // Chart.js onClick: the elements under the pointer (https://www.chartjs.org/docs/latest/configuration/interactions.html#events).
    return function (event, elements) {
      if (!elements.length) { return; }
      var url = urlFor(elements[0]);
      if (url) { window.location.assign(url); }
    };
  }
  function pointerOnHover(event, elements) {
    event.native.target.style.cursor = elements.length ? "pointer" : "default";
  }
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
      onHover: pointerOnHover,
      onClick: openOnClick(function (el) {
        var day = perDay.labels[el.index];
        var status = perDay.datasets[el.datasetIndex].status;
        return perDay.queue + "?" + new URLSearchParams({ status: status, created_after: day, created_before: day });
      }),
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var perMp = data("data-per-marketplace");
  new Chart(document.getElementById("chart-per-marketplace"), {
    type: "bar",
    data: { labels: perMp.labels, datasets: [{ label: "Issued", data: perMp.data.map(Number), backgroundColor: PALETTE, maxBarThickness: 36 }] },
    options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } },
      onHover: pointerOnHover,
      onClick: openOnClick(function (el) { return perMp.urls[el.index]; }) }
  });

  // Horizontal bars whose labels carry the numbers ("Arrived damaged: 12"): readable without
  // hovering, and the table below repeats them with links.
  var reasons = data("data-reasons");
  new Chart(document.getElementById("chart-reasons"), {
    type: "bar",
    data: { labels: reasons.labels, datasets: [{ label: "Refunds", data: reasons.data, backgroundColor: PALETTE, maxBarThickness: 28 }] },
    options: { indexAxis: "y", responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      onHover: pointerOnHover,
      onClick: openOnClick(function (el) { return reasons.urls[el.index]; }) }
  });
})();
