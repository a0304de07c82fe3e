// Lists of refunds (the queue): a badge <span data-live-refund="12" data-status="PROCESSING">
// of a refund being delivered asks /staff/refunds/statuses/ every 3 s (one request for all of
// them) and changes to the new status in place, with a polite announcement for screen readers
// ("RD-12 is now Issued."). It stops once none of them is moving, and while the tab is hidden.
// Without JavaScript the list is as fresh as its last load.
(function () {
  "use strict";
  var badges = function () { return document.querySelectorAll("[data-live-refund]"); };
  if (!badges().length) return;
  var url = document.body.dataset.liveStatusesUrl || "/staff/refunds/statuses/";
  var announcer = document.createElement("div");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  announcer.id = "live-announcer";
  document.body.appendChild(announcer);

  function moving() {
    return Array.prototype.filter.call(badges(), function (b) { return b.dataset.moving === "1"; });
  }

  var timer = null;
  function schedule() {
    if (timer) window.clearTimeout(timer);
    timer = moving().length ? window.setTimeout(tick, 3000) : null;
  }

  function apply(badge, refund) {
    if (badge.dataset.status === refund.status) return false;
    badge.className = badge.className.replace(/\bstatus-[a-z]+\b/, "status-" + refund.status.toLowerCase());
    badge.textContent = refund.label;
    badge.dataset.status = refund.status;
    badge.dataset.moving = refund.moving ? "1" : "0";
    var row = badge.closest("tr");
    if (row) row.classList.add("row-changed");
    return true;
  }

  function tick() {
    timer = null;
    if (document.hidden) return;  // visibilitychange starts it again
    var ids = moving().map(function (b) { return b.dataset.liveRefund; });
    if (!ids.length) return;
    fetch(url + "?ids=" + encodeURIComponent(ids.join(",")), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (r) { return r.ok ? r.json() : { refunds: [] }; })
      .then(function (data) {
        var said = [];
        data.refunds.forEach(function (refund) {
          document.querySelectorAll('[data-live-refund="' + refund.id + '"]').forEach(function (badge) {
            if (apply(badge, refund)) said.push(refund.number + " is now " + refund.label + ".");
            badge.dataset.moving = refund.moving ? "1" : "0";
          });
        });
        if (said.length) announcer.textContent = said.join(" ");
      })
      .catch(function () { /* the network is down: try again on the next tick */ })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(); });
  schedule();
})();
