// Loaded on every admin page (templates/admin/base_site.html). Keyboard access to the admin's
// regions that scroll sideways (WCAG 2.1.1, axe "scrollable-region-focusable"): an inline table
// or the changelist's results wider than the screen becomes a focusable, named region, so arrow
// keys scroll it; one that fits stays out of the tab order. Runs again on resize.
(function () {
  "use strict";
  var SELECTOR = ".inline-group, #changelist-form .results";
  function nameOf(region) {
    var heading = region.querySelector("h2, caption");
    var text = heading && heading.textContent.trim();
    return (text || "Table") + " (scrolls sideways)";
  }
  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (region) {
      if (region.scrollWidth > region.clientWidth + 1) {
        if (!region.dataset.rdScroll) {
          region.setAttribute("tabindex", "0");
          region.setAttribute("role", "region");
          region.setAttribute("aria-label", nameOf(region));
          region.dataset.rdScroll = "1";
        }
      } else if (region.dataset.rdScroll) {
        region.removeAttribute("tabindex");
        region.removeAttribute("role");
        region.removeAttribute("aria-label");
        delete region.dataset.rdScroll;
      }
    });
  }
  var pending = null;
  function later() {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(function () { pending = null; mark(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark);
  else mark();
  window.addEventListener("resize", later);
  window.addEventListener("load", mark);
})();
