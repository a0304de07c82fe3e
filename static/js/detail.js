// A refund's page (templates/staff/detail.html): keyboard shortcuts. j / k open the next and
// previous refund needing a decision, a approves (after the confirmation dialog of confirm.js),
// d goes to the deny form's reason. Keys typed into a field, or with Ctrl/Alt/Meta, are left
// alone; nothing happens for an action the page does not offer. Every shortcut is also a link or
// a button on the page (aria-keyshortcuts names them).
(function () {
  "use strict";
  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) ||
      !!target.closest("dialog[open]");
  }
  function go(id) {
    var link = document.getElementById(id);
    if (link && link.href) { window.location.assign(link.href); return true; }
    return false;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    var done = false;
    switch (event.key) {
      case "j": done = go("next-refund"); break;
      case "k": done = go("previous-refund"); break;
      case "a": {
        var approve = document.querySelector("form.action-approve");
        if (approve) {
          // Asked first: the shortcut is one key away from a decision about money.
          approve.dataset.confirm = approve.dataset.shortcutConfirm || "Approve this refund?";
          approve.dataset.confirmButton = "Approve";
          var button = approve.querySelector("button[type=submit]");
          approve.requestSubmit(button || undefined);
          // A click on the button itself is not asked again.
          window.setTimeout(function () { delete approve.dataset.confirm; }, 0);
          done = true;
        }
        break;
      }
      case "d": {
        var reason = document.querySelector("form.action-deny textarea, form.action-deny input:not([type=hidden])");
        if (reason) { reason.scrollIntoView({ block: "center" }); reason.focus(); done = true; }
        break;
      }
    }
    if (done) event.preventDefault();
  });
})();
