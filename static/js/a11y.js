// Loaded on every page (base.html). Keyboard access to tables that scroll sideways (WCAG 2.1.1,
// axe "scrollable-region-focusable"): a .table-wrap wider than the screen becomes a focusable,
// named region, so arrow keys scroll it; one that fits stays out of the tab order. Runs again
// on resize and after htmx swaps in new content.
(function () {
  "use strict";
  function nameOf(wrap) {
    var table = wrap.querySelector("table");
    var caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    var section = wrap.closest("section, .card");
    var heading = section && section.querySelector("h1, h2, h3");
    if (heading && heading.textContent.trim()) return heading.textContent.trim();
    return "Table";
  }
  function mark() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (!wrap.hasAttribute("tabindex")) {
          wrap.setAttribute("tabindex", "0");
          wrap.setAttribute("role", "region");
          if (!wrap.hasAttribute("aria-label") && !wrap.hasAttribute("aria-labelledby")) {
            wrap.setAttribute("aria-label", nameOf(wrap) + " (scrolls sideways)");
            wrap.dataset.a11yScroll = "named";
          } else {
            wrap.dataset.a11yScroll = "1";
          }
        }
      } else if (wrap.dataset.a11yScroll) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        if (wrap.dataset.a11yScroll === "named") wrap.removeAttribute("aria-label");
        delete wrap.dataset.a11yScroll;
      }
    });
  }
  var pending = null;
  function later() {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(function () { pending = null; mark(); });
  }
  mark();
  window.addEventListener("resize", later);
  window.addEventListener("load", mark);
  document.addEventListener("htmx:afterSettle", later);
})();
