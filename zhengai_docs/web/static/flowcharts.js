/* Draw ```mermaid blocks as flowcharts (the server renders them as <pre><code class="language-mermaid">). */
(function () {
  "use strict";
  var started = false;

  function draw(root) {
    if (!window.mermaid) { return; }
    if (!started) {
      window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral", flowchart: { htmlLabels: false } });
      started = true;
    }
    var nodes = [];
    root.querySelectorAll("pre > code.language-mermaid").forEach(function (code) {
      var chart = document.createElement("div");
      chart.className = "mermaid flowchart";
      chart.textContent = code.textContent;
      code.parentNode.replaceWith(chart);
      nodes.push(chart);
    });
    if (nodes.length) {
      window.mermaid.run({ nodes: nodes, suppressErrors: true }).catch(function () { /* the source stays visible */ });
    }
  }

  window.zhengaiDrawFlowcharts = draw;
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".document").forEach(draw);
  });
})();
