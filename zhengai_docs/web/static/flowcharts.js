/* Draw ```mermaid blocks as flowcharts (the server renders them as <pre><code class="language-mermaid">).
   The page names the Mermaid script (3.6 MB) in data-mermaid and it is fetched only when a body has
   a flowchart: on a document page after the load event, so the text is shown and the page counts
   as loaded first (the chart follows), in the editor when the body first has one. */
(function () {
  "use strict";
  var started = false;
  var mermaidUrl = document.currentScript && document.currentScript.dataset.mermaid;
  var loading = null;

  function loadMermaid() {
    if (window.mermaid) { return Promise.resolve(); }
    if (!mermaidUrl) { return Promise.reject(new Error("no mermaid")); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = mermaidUrl;
        script.id = "vditorMermaidScript";  /* the editor (Vditor) finds it loaded and fetches no copy of its own */
        script.onload = function () {
          var initialize = window.mermaid.initialize.bind(window.mermaid);  /* whoever configures it: strict */
          window.mermaid.initialize = function (config) { initialize(Object.assign({}, config, { securityLevel: "strict" })); };
          resolve();
        };
        script.onerror = function () { loading = null; reject(new Error("mermaid failed to load")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function render(root) {
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

  function draw(root) {
    if (!root.querySelector("pre > code.language-mermaid")) { return; }
    loadMermaid().then(function () { render(root); }, function () { /* the source stays visible */ });
  }

  window.zhengaiDrawFlowcharts = draw;
  window.zhengaiLoadMermaid = loadMermaid;
  function drawAll() { document.querySelectorAll(".document").forEach(draw); }
  if (document.readyState === "complete") { drawAll(); } else { window.addEventListener("load", drawAll); }
})();
