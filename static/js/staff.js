// Small progressive enhancements for the staff pages; every action works without this file.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll(".row-check").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  // The queue's bulk form asks before it is sent (confirm.js, data-confirm-bulk): the question
  // starts with the chosen action ("Approve 3 refunds for 24.68 USD?"), and a denial asks in the
  // danger tone.
  var bulk = document.getElementById("bulk");
  var action = document.getElementById("bulk-action");
  function syncBulkQuestion() {
    var option = action.options[action.selectedIndex];
    if (!option) return;
    var verb = option.textContent.trim();
    bulk.dataset.confirm = verb;
    bulk.dataset.confirmButton = verb;
    if (option.value === "deny") bulk.dataset.confirmTone = "danger";
    else delete bulk.dataset.confirmTone;
  }
  if (bulk && action) {
    action.addEventListener("change", syncBulkQuestion);
    syncBulkQuestion();
  }
})();
