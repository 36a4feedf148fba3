/* Every page: the phone menu toggle and the 打印 button. Loaded in <head> without defer so that the
   "js" class is on <html> before the first paint: the CSS folds the menu on phones only when this
   script runs, and without scripts the menu simply stays open (and the print button hidden). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function menu() {
    var header = document.querySelector(".site-header");
    var toggle = header && header.querySelector(".menu-toggle");
    if (!toggle) { return; }
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("menu-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  /* Print once the flowcharts are drawn (they are drawn after the load event, see flowcharts.js):
     a chart still waiting for Mermaid would print as its source. Gives up waiting after 8 s.
     A body with pictures drawn for paper (.flowchart-print, see app.css) prints at once. */
  function printWhenDrawn() {
    var started = Date.now();
    (function wait() {
      var pictures = document.querySelector(".document .flowchart-print");  /* drawn for paper already */
      var pending = !pictures && document.querySelector(".document pre > code.language-mermaid, .document .mermaid:not([data-processed])");
      if (pending && window.zhengaiDrawFlowcharts && Date.now() - started < 8000) {
        window.setTimeout(wait, 100);
        return;
      }
      window.print();
    })();
  }

  function printButtons() {
    document.querySelectorAll("button[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", printWhenDrawn);
    });
  }

  function ready() {
    menu();
    printButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
