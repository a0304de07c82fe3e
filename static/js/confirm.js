// Loaded on every page (base.html). A form with data-confirm="Question?" asks in a modal
// <dialog> before it is sent: the question, what it will do, Cancel (the default, and Esc) and a
// button named after the action (data-confirm-button, else the submit button's text). Without
// JavaScript the form is sent as before; the server's rules still decide.
//
// Bulk forms (data-confirm-bulk) build the question from the rows ticked for them: each
// <input class="row-check" data-amount="12.34" data-currency="USD"> counts once, and the amounts
// are added per currency in minor units (integers: never floating point), so the question reads
// "Approve 3 refunds for 24.68 USD + 500 JPY?". With nothing ticked the form is sent as it is,
// and the server says that nothing was chosen.
(function () {
  "use strict";

  function minorUnits(text) {
    // "12.340" -> {units: 12340, decimals: 3}; the server renders exactly the currency's decimals.
    var m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
    if (!m) return null;
    var decimals = m[3] ? m[3].length : 0;
    var units = parseInt(m[2] + (m[3] || ""), 10);
    return { units: m[1] ? -units : units, decimals: decimals };
  }

  function formatMinor(units, decimals) {
    var negative = units < 0;
    var digits = String(Math.abs(units));
    if (decimals > 0) {
      while (digits.length <= decimals) digits = "0" + digits;
      digits = digits.slice(0, -decimals) + "." + digits.slice(-decimals);
    }
    return (negative ? "-" : "") + digits;
  }

  function bulkSummary(form) {
    var boxes = Array.prototype.filter.call(
      document.querySelectorAll(".row-check"),
      function (box) { return box.checked && (!box.form || box.form === form); }
    );
    var totals = {};
    var order = [];
    boxes.forEach(function (box) {
      var amount = minorUnits(box.dataset.amount || "");
      var currency = box.dataset.currency || "";
      if (!amount || !currency) return;
      if (!totals[currency]) { totals[currency] = { units: 0, decimals: amount.decimals }; order.push(currency); }
      totals[currency].units += amount.units;
    });
    var money = order.map(function (c) { return formatMinor(totals[c].units, totals[c].decimals) + " " + c; });
    return { count: boxes.length, money: money.join(" + ") };
  }

  var dialog = null;
  function ensureDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-text");
    dialog.innerHTML =
      '<form method="dialog">' +
      '<h2 id="confirm-dialog-title"></h2>' +
      '<p id="confirm-dialog-text"></p>' +
      '<div class="form-actions">' +
      '<button type="submit" value="cancel" class="btn btn-secondary" id="confirm-dialog-cancel">Cancel</button>' +
      '<button type="submit" value="ok" class="btn" id="confirm-dialog-ok"></button>' +
      "</div></form>";
    document.body.appendChild(dialog);
    return dialog;
  }

  function ask(form, submitter) {
    var title = form.dataset.confirm;
    var text = form.dataset.confirmText || "";
    if (form.hasAttribute("data-confirm-bulk")) {
      var summary = bulkSummary(form);
      if (summary.count === 0) return Promise.resolve(true);
      var action = submitter && submitter.value ? submitter.textContent.trim() : title;
      title = action + " " + summary.count + (summary.count === 1 ? " refund" : " refunds") +
        (summary.money ? " for " + summary.money : "") + "?";
      text = form.dataset.confirmText || "Each refund is checked on its own; the result for each shows in its row.";
    }
    var d = ensureDialog();
    d.querySelector("#confirm-dialog-title").textContent = title;
    var p = d.querySelector("#confirm-dialog-text");
    p.textContent = text;
    p.hidden = !text;
    var ok = d.querySelector("#confirm-dialog-ok");
    ok.textContent = form.dataset.confirmButton || (submitter && submitter.textContent.trim()) || "Confirm";
    ok.className = "btn " + (form.dataset.confirmTone === "danger" ? "btn-danger" : "btn-primary");
    d.returnValue = "";
    return new Promise(function (resolve) {
      d.addEventListener("close", function done() {
        d.removeEventListener("close", done);
        resolve(d.returnValue === "ok");
      });
      d.showModal();
      d.querySelector("#confirm-dialog-cancel").focus();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (form.dataset.confirmed === "1") { delete form.dataset.confirmed; return; }
    event.preventDefault();
    var submitter = event.submitter || null;
    ask(form, submitter).then(function (yes) {
      if (!yes) { if (submitter) submitter.focus(); return; }
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter || undefined);
      else form.submit();
    });
  });

  window.RefundDeskConfirm = { bulkSummary: bulkSummary, minorUnits: minorUnits, formatMinor: formatMinor };
})();
