/* After a refused submit, move focus to the first error: the first field marked
   aria-invalid="true" (Django marks fields with errors) or the error summary
   ([data-error-summary], tabindex="-1"), whichever comes first in the page. Included only by
   the error templates (templates/staff/_form_errors.html, templates/portal/_errors.html) when a
   form has errors, so a page without errors keeps its own focus. Runs once per page load, also
   when several forms include it or htmx swaps it in again. */
(function () {
  "use strict";
  if (window.refundDeskFocusError) { return; }
  window.refundDeskFocusError = true;

  function firstError() {
    return document.querySelector(
      "main [aria-invalid='true'], main [data-error-summary]"
    );
  }

  function reveal(element) {
    // A field inside a closed <details> cannot take focus: open it first.
    for (var node = element.parentElement; node; node = node.parentElement) {
      if (node.tagName === "DETAILS" && !node.open) { node.open = true; }
    }
  }

  function focusFirstError() {
    var target = firstError();
    if (!target) { return; }
    reveal(target);
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({ block: "center" }); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();
