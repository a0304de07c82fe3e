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
})();
