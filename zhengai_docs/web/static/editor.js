/* The document editor: a toolbar for people who have never heard of Markdown, table paste from
   Word/Excel, and a live preview rendered by the server (the same sanitiser as the document page). */
(function () {
  "use strict";

  function lineStart(text, index) { return text.lastIndexOf("\n", index - 1) + 1; }
  function lineEnd(text, index) { var end = text.indexOf("\n", index); return end === -1 ? text.length : end; }

  function Editor(textarea) {
    this.area = textarea;
  }

  Editor.prototype.replace = function (start, end, text, selectFrom, selectTo) {
    var area = this.area;
    area.focus();
    area.setSelectionRange(start, end);
    /* execCommand keeps the browser's undo history; fall back to setRangeText. */
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      area.setRangeText(text, start, end, "end");
    }
    if (selectFrom !== undefined) { area.setSelectionRange(selectFrom, selectTo); }
    area.dispatchEvent(new Event("input", { bubbles: true }));
  };

  Editor.prototype.prefixLines = function (prefix, numbered) {
    var area = this.area, text = area.value;
    var start = lineStart(text, area.selectionStart), end = lineEnd(text, area.selectionEnd);
    var lines = text.slice(start, end).split("\n");
    var out = lines.map(function (line, i) {
      var bare = line.replace(/^(#{1,6} |> |[-*] |\d+\. )/, "");
      return (numbered ? (i + 1) + ". " : prefix) + bare;
    }).join("\n");
    this.replace(start, end, out, start, start + out.length);
  };

  Editor.prototype.wrap = function (marker, placeholder) {
    var area = this.area, s = area.selectionStart, e = area.selectionEnd;
    var inner = area.value.slice(s, e) || placeholder;
    this.replace(s, e, marker + inner + marker, s + marker.length, s + marker.length + inner.length);
  };

  Editor.prototype.insertBlock = function (block) {
    var area = this.area, text = area.value, at = lineEnd(text, area.selectionEnd);
    var before = at > 0 && text.charAt(at - 1) !== "\n" ? "\n\n" : "\n";
    this.replace(at, at, before + block + "\n", at + before.length, at + before.length + block.length);
  };

  Editor.prototype.table = function (cols, rows) {
    var header = [], rule = [], body = [];
    for (var c = 1; c <= cols; c++) { header.push("列" + c); rule.push("---"); }
    for (var r = 0; r < rows; r++) { body.push("| " + header.map(function () { return " "; }).join(" | ") + " |"); }
    this.insertBlock(["| " + header.join(" | ") + " |", "| " + rule.join(" | ") + " |"].concat(body).join("\n"));
  };

  Editor.prototype.addRow = function () {
    var area = this.area, text = area.value;
    var start = lineStart(text, area.selectionStart), end = lineEnd(text, area.selectionStart);
    var line = text.slice(start, end);
    if (!/^\s*\|.*\|\s*$/.test(line)) { window.alert("请先把光标放在表格的某一行里。"); return; }
    var cells = line.trim().slice(1, -1).split("|").length;
    var row = "|" + new Array(cells + 1).join("   |");
    this.replace(end, end, "\n" + row, end + 3, end + 3);
  };

  Editor.prototype.link = function () {
    var area = this.area, s = area.selectionStart, e = area.selectionEnd;
    var label = area.value.slice(s, e) || "链接文字";
    var url = window.prompt("请输入链接地址（以 https:// 开头），或文档代码（如 A101B）：", "https://");
    if (!url) { return; }
    if (/^[A-Za-z]\d{3}[ZLBzlb]$/.test(url.trim())) { url = "/documents/" + url.trim().toUpperCase(); }
    this.replace(s, e, "[" + label + "](" + url.trim() + ")");
  };

  /* Cells from Word/Excel: an HTML table, or tab-separated lines. */
  function rowsFromClipboard(data) {
    var html = data.getData("text/html");
    if (html && /<table/i.test(html)) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var table = doc.querySelector("table");
      if (table) {
        return Array.prototype.map.call(table.rows, function (tr) {
          return Array.prototype.map.call(tr.cells, function (cell) { return cell.textContent; });
        });
      }
    }
    var plain = data.getData("text/plain");
    if (plain && plain.indexOf("\t") !== -1) {
      var lines = plain.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
      if (lines.length > 1) { return lines.map(function (l) { return l.split("\t"); }); }
    }
    return null;
  }

  function markdownTable(rows) {
    var width = Math.max.apply(null, rows.map(function (r) { return r.length; }));
    function cell(text) { return (text || "").replace(/\s+/g, " ").trim().replace(/\|/g, "｜"); }
    function line(r) { var out = []; for (var i = 0; i < width; i++) { out.push(cell(r[i])); } return "| " + out.join(" | ") + " |"; }
    var rule = "|" + new Array(width + 1).join(" --- |");
    return [line(rows[0]), rule].concat(rows.slice(1).map(line)).join("\n");
  }

  var FLOWCHART = "```mermaid\nflowchart TD\n  A[提出申请] --> B{部门审核}\n  B -->|不通过| C[退回修改]\n  C --> A\n  B -->|通过| D[审批并执行]\n```";

  function setUp(form) {
    var area = form.querySelector("textarea.body-input");
    var toolbar = form.querySelector(".toolbar");
    var preview = form.querySelector("#preview");
    var dialog = document.getElementById("table-dialog");
    var token = form.querySelector("input[name=csrf_token]").value;
    var editor = new Editor(area);
    toolbar.hidden = false;

    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) { return; }
      switch (button.dataset.action) {
        case "h2": editor.prefixLines("## "); break;
        case "h3": editor.prefixLines("### "); break;
        case "bold": editor.wrap("**", "加粗文字"); break;
        case "ul": editor.prefixLines("- "); break;
        case "ol": editor.prefixLines("", true); break;
        case "quote": editor.prefixLines("> "); break;
        case "row": editor.addRow(); break;
        case "link": editor.link(); break;
        case "flowchart": editor.insertBlock(FLOWCHART); break;
        case "table":
          if (dialog && dialog.showModal) { dialog.showModal(); } else { editor.table(3, 3); }
          break;
      }
    });

    if (dialog) {
      dialog.addEventListener("close", function () {
        if (dialog.returnValue !== "ok") { return; }
        var cols = parseInt(dialog.querySelector("[name=cols]").value, 10) || 3;
        var rows = parseInt(dialog.querySelector("[name=rows]").value, 10) || 3;
        editor.table(Math.min(Math.max(cols, 1), 12), Math.min(Math.max(rows, 1), 50));
      });
    }

    area.addEventListener("paste", function (event) {
      var rows = event.clipboardData && rowsFromClipboard(event.clipboardData);
      if (!rows || !rows.length) { return; }
      event.preventDefault();
      var s = area.selectionStart;
      editor.replace(s, area.selectionEnd, markdownTable(rows) + "\n");
    });

    var timer = null, sequence = 0;
    function refresh() {
      var mine = ++sequence;
      fetch(area.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ body: area.value })
      }).then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      }).then(function (data) {
        if (mine !== sequence) { return; }
        preview.innerHTML = data.html;  /* sanitised by the server with the document page's rules */
        if (data.has_mermaid && window.zhengaiDrawFlowcharts) { window.zhengaiDrawFlowcharts(preview); }
      }).catch(function () {
        if (mine === sequence) { preview.innerHTML = "<p class=\"error\">预览暂时不可用，不影响保存。</p>"; }
      });
    }
    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("document-form");
    if (form) { setUp(form); }
  });
})();

/* The diagnostic-point picker: checkboxes and suggestions edit the 关联诊断点 field. */
(function () {
  "use strict";
  function setUp(picker, field) {
    var separators = /[\s,，、;；]+/;
    function current() { return field.value.split(separators).filter(Boolean); }
    function write(ids) { field.value = ids.join("，"); field.dispatchEvent(new Event("input", { bubbles: true })); }
    function sync() {
      var ids = current();
      picker.querySelectorAll("input[data-point]").forEach(function (box) { box.checked = ids.indexOf(box.dataset.point) !== -1; });
    }
    picker.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.dataset || !box.dataset.point) { return; }
      var ids = current().filter(function (id) { return id !== box.dataset.point; });
      if (box.checked) { ids.push(box.dataset.point); }
      write(ids);
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-suggest]");
      if (!button) { return; }
      var ids = current();
      if (ids.indexOf(button.dataset.suggest) === -1) { ids.push(button.dataset.suggest); write(ids); sync(); }
      button.disabled = true;
    });
    var filter = picker.querySelector("input[type=search]");
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.trim().split(/\s+/).filter(Boolean);
      picker.querySelectorAll("li[data-text]").forEach(function (li) {
        li.hidden = !words.every(function (w) { return li.dataset.text.indexOf(w) !== -1; });
      });
    });
    field.addEventListener("input", sync);
    sync();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.getElementById("point-picker"), field = document.getElementById("points");
    if (picker && field) { setUp(picker, field); }
  });
})();
