/* The document editor: Vditor (vendor/vditor-4.0.0) in its WYSIWYG mode over the form's textarea,
   which stays the field that is sent, in Markdown. Without scripts the textarea alone still works.

   - Nothing touched, nothing changed: the textarea keeps the text as loaded until the user edits,
     and on saving, every block the user did not touch keeps its original characters (the editor
     writes its own spelling of Markdown only where something changed; see `preserve`).
   - Clause tools (插入条, 插入章, 重排序号) ask the server (catalogue/clauses.py) for the renumbered
     body and show each change before applying it.
   - Paste from Word/WPS: headings, lists (Word's mso-list paragraphs) and tables, merged cells
     repeated so that every row reads on its own; tab-separated cells (Excel) become a table.
   - Ctrl+S saves; leaving with unsaved changes asks first (not after a save). */
(function () {
  "use strict";

  var FLOWCHART = "```mermaid\nflowchart TD\n  A[提出申请] --> B{部门审核}\n  B -->|不通过| C[退回修改]\n  C --> A\n  B -->|通过| D[审批并执行]\n```\n";
  var TABLE = "| 列1 | 列2 | 列3 |\n| --- | --- | --- |\n|  |  |  |\n|  |  |  |\n";
  var MERMAID_FENCE = /^[ \t]{0,3}(`{3,}|~{3,})[ \t]*mermaid/m;

  /* ---- Blocks: keep the user's own spelling of everything they did not change ---- */

  /* Top-level blocks separated by blank lines; a fenced code block is one block with its blank
     lines. gaps[i]: the blank lines before block i; tail: those after the last one. */
  function splitBlocks(text) {
    var lines = text.split("\n"), blocks = [], gaps = [], current = [], gap = [], fence = null;
    lines.forEach(function (line) {
      var open = /^[ \t]{0,3}(`{3,}|~{3,})/.exec(line);
      if (fence) {
        current.push(line);
        if (open && open[1].charAt(0) === fence.charAt(0) && open[1].length >= fence.length && !line.replace(/[\s`~]/g, "")) { fence = null; }
        return;
      }
      if (!line.trim()) {
        if (current.length) { blocks.push(current.join("\n")); current = []; }
        gap.push(line);
        return;
      }
      if (!current.length) { gaps.push(gap); gap = []; }
      if (open) { fence = open[1]; }
      current.push(line);
    });
    if (current.length) { blocks.push(current.join("\n")); }
    return { blocks: blocks, gaps: gaps, tail: gap };
  }

  function blankLines(lines) { return lines.map(function (l) { return l + "\n"; }).join(""); }

  /* The editor's spelling of a piece of Markdown: what it would write for it untouched. */
  function canonical(lute, markdown) {
    return lute.VditorDOM2Md(lute.Md2VditorDOM(markdown)).replace(/\n+$/, "");
  }

  /* The editor's output with every unchanged block given back its original characters. The result
     is used only when the editor reads it exactly as it reads its own output; otherwise the output. */
  function preserve(lute, original, output) {
    var before = splitBlocks(original), after = splitBlocks(output);
    var spelled = before.blocks.map(function (block) {
      try { return canonical(lute, block); } catch (e) { return null; }
    });
    var next = 0, used = [], text = "";
    after.blocks.forEach(function (block, j) {
      var match = -1;
      for (var i = next; i < spelled.length; i++) { if (spelled[i] === block) { match = i; break; } }
      used.push(match);
      if (match !== -1) { next = match + 1; }
      var previous = j > 0 ? used[j - 1] : -1;
      if (j === 0) {
        text += match === 0 ? blankLines(before.gaps[0]) : "";
      } else {
        text += match !== -1 && previous === match - 1 ? "\n" + blankLines(before.gaps[match]) : "\n\n";
      }
      text += match === -1 ? block : before.blocks[match];
    });
    var last = used.length ? used[used.length - 1] : -1;
    text += last !== -1 && last === before.blocks.length - 1 ? (before.tail.length ? "\n" + before.tail.join("\n") : "") : "\n";
    if (text === original) { return original; }
    try {
      if (canonical(lute, text) === canonical(lute, output)) { return text; }
    } catch (e) { /* fall through: the editor's own text is always right */ }
    return output;
  }

  /* ---- Paste from Word / WPS ---- */

  var OFFICE = /urn:schemas-microsoft-com|mso-|class="?Mso|xmlns:w=|kingsoft|wps/i;

  function textOf(node) { return (node.textContent || "").replace(/[\s\u00a0]+/g, " ").trim(); }

  /* A table as a plain grid: merged cells repeated (rows) or left empty (columns), paragraphs in a
     cell joined by line breaks, the first row the header. */
  function cleanTable(table, doc) {
    var grid = [];
    Array.prototype.forEach.call(table.rows, function (tr, r) {
      var row = grid[r] = grid[r] || [], c = 0;
      Array.prototype.forEach.call(tr.cells, function (cell) {
        while (row[c] !== undefined) { c++; }
        var paragraphs = cell.querySelectorAll("p, div, li");
        var text = paragraphs.length ? Array.prototype.map.call(paragraphs, textOf).filter(Boolean).join("\n") : textOf(cell);
        var rowspan = Math.max(1, parseInt(cell.getAttribute("rowspan") || "1", 10) || 1);
        var colspan = Math.max(1, parseInt(cell.getAttribute("colspan") || "1", 10) || 1);
        for (var dr = 0; dr < rowspan; dr++) {
          var target = grid[r + dr] = grid[r + dr] || [];
          for (var dc = 0; dc < colspan; dc++) { target[c + dc] = dc === 0 ? text : ""; }
        }
        c += colspan;
      });
    });
    var width = Math.max.apply(null, grid.map(function (r) { return r.length; }).concat([1]));
    var out = doc.createElement("table"), head = out.createTHead(), body = out.createTBody();
    grid.forEach(function (cells, r) {
      var tr = (r === 0 ? head : body).insertRow();
      for (var c = 0; c < width; c++) {
        var cell = doc.createElement(r === 0 ? "th" : "td");
        (cells[c] || "").split("\n").forEach(function (part, k) {
          if (k) { cell.appendChild(doc.createElement("br")); }
          cell.appendChild(doc.createTextNode(part));
        });
        tr.appendChild(cell);
      }
    });
    return out;
  }

  var BULLET = /^[\u00b7\u2022\u25cf\u25cb\u25a0\u25aa\u2013\u2014\-*o§Øü\uf0a7\uf0b7\uf06c\uf0d8\uf0fc]$/;
  var ORDERED = /^\(?\d{1,3}[.)）]$/;

  /* Word's list paragraphs (mso-list) as real lists; Chinese numbering (一、（一）) stays text. */
  function cleanLists(root, doc) {
    var items = Array.prototype.filter.call(root.querySelectorAll("p"), function (p) {
      return /mso-list:\s*l\d/i.test(p.getAttribute("style") || "") || /MsoListParagraph/i.test(p.className || "");
    });
    var stack = [];
    items.forEach(function (p) {
      var level = parseInt(((/level(\d)/i.exec(p.getAttribute("style") || "") || [])[1]) || "1", 10);
      var markerNode = p.querySelector("span[style*='mso-list:Ignore'], span[style*='mso-list: Ignore']");
      var marker = markerNode ? textOf(markerNode) : "";
      if (markerNode) { markerNode.parentNode.removeChild(markerNode); }
      var kind = ORDERED.test(marker) ? "ol" : (BULLET.test(marker) || !marker ? "ul" : null);
      if (!kind) {  /* 一、 （一） ①: kept as the paragraph's own text, as the Word import does */
        p.insertBefore(doc.createTextNode(marker), p.firstChild);
        stack = [];
        return;
      }
      var previous = p.previousElementSibling;
      var continues = stack.length && previous && previous.tagName === "LI_MARK";
      if (!continues) { stack = []; }
      var li = doc.createElement("li");
      li.textContent = textOf(p);
      while (stack.length > level) { stack.pop(); }
      if (stack.length < level) {
        var list = doc.createElement(kind);
        if (stack.length) {
          var parentItems = stack[stack.length - 1].children;
          (parentItems.length ? parentItems[parentItems.length - 1] : stack[stack.length - 1]).appendChild(list);
        } else {
          p.parentNode.insertBefore(list, p);
        }
        while (stack.length < level) { stack.push(list); }
      }
      stack[stack.length - 1].appendChild(li);
      var mark = doc.createElement("LI_MARK");
      p.parentNode.replaceChild(mark, p);
    });
    Array.prototype.forEach.call(root.querySelectorAll("li_mark"), function (m) { m.parentNode.removeChild(m); });
  }

  /* 第一章 paragraphs become chapter headings and 第一条 labels bold, as the Word import writes them. */
  function cleanClauses(root, doc) {
    Array.prototype.forEach.call(root.querySelectorAll("p"), function (p) {
      var text = textOf(p);
      if (/^第[零〇一二两三四五六七八九十百千]+章(\s|$)/.test(text) && text.length <= 40) {
        var h2 = doc.createElement("h2");
        h2.textContent = text;
        p.parentNode.replaceChild(h2, p);
        return;
      }
      var clause = /^(第[零〇一二两三四五六七八九十百千]+条)[\s\u3000]*/.exec(text);
      if (clause && !p.querySelector("b, strong")) {
        p.textContent = "";
        var strong = doc.createElement("strong");
        strong.textContent = clause[1];
        p.appendChild(strong);
        p.appendChild(doc.createTextNode(" " + text.slice(clause[0].length)));
      }
    });
  }

  function cleanOfficeHtml(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var root = doc.body;
    Array.prototype.forEach.call(root.querySelectorAll("style, meta, link, script, xml, title"), function (n) { n.parentNode.removeChild(n); });
    var walker = doc.createTreeWalker(root, NodeFilter.SHOW_COMMENT), comments = [];
    while (walker.nextNode()) { comments.push(walker.currentNode); }
    comments.forEach(function (n) { n.parentNode.removeChild(n); });
    Array.prototype.forEach.call(root.getElementsByTagName("o:p"), function (n) { n.textContent = ""; });
    Array.prototype.slice.call(root.querySelectorAll("table")).reverse().forEach(function (table) {
      table.parentNode.replaceChild(cleanTable(table, doc), table);
    });
    cleanLists(root, doc);
    cleanClauses(root, doc);
    return root.innerHTML;
  }

  function tableFromTabs(plain) {
    var lines = plain.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
    if (lines.length < 2 || plain.indexOf("\t") === -1) { return null; }
    var rows = lines.map(function (l) { return l.split("\t"); });
    var width = Math.max.apply(null, rows.map(function (r) { return r.length; }));
    function cell(text) { return (text || "").replace(/\s+/g, " ").trim().replace(/\|/g, "｜"); }
    function line(r) { var out = []; for (var i = 0; i < width; i++) { out.push(cell(r[i])); } return "| " + out.join(" | ") + " |"; }
    var rule = "|" + new Array(width + 1).join(" --- |");
    return [line(rows[0]), rule].concat(rows.slice(1).map(line)).join("\n") + "\n";
  }

  /* Hand content to the editor as a paste of it: the editor's own paste puts blocks (a table,
     a list, a code block) in place as blocks. Our listener lets these through. */
  var repasting = false;
  function paste(editor, type, data) {
    if (editor.getCurrentMode() === "sv") {
      editor.insertValue(type === "text/html" ? editor.html2md(data) : data);
      return;
    }
    var transfer = new DataTransfer();
    transfer.setData(type, data);
    if (type !== "text/plain") { transfer.setData("text/plain", ""); }
    repasting = true;
    try {
      editor.vditor.wysiwyg.element.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
    } finally {
      repasting = false;
    }
  }

  /* ---- The clause tools' dialog ---- */

  function ClauseTools(options) {
    this.url = options.url;
    this.token = options.token;
    this.getValue = options.getValue;
    this.apply = options.apply;
    this.dialog = document.getElementById("clause-dialog");
    this.result = null;
    var self = this;
    this.select = this.dialog.querySelector("select[name=position]");
    this.applyButton = this.dialog.querySelector("button[value=apply]");
    this.select.addEventListener("change", function () { self.ask(); });
    this.dialog.addEventListener("close", function () {
      if (self.dialog.returnValue === "apply" && self.result) { self.apply(self.result.body); }
      self.result = null;
    });
  }

  ClauseTools.prototype.post = function (payload) {
    return fetch(this.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.token },
      body: JSON.stringify(payload)
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    });
  };

  ClauseTools.prototype.open = function (action) {
    var self = this, titles = { clause: "插入条", chapter: "插入章", renumber: "重排条、章序号" };
    this.action = action;
    this.body = this.getValue();
    this.dialog.querySelector("h2").textContent = titles[action];
    this.dialog.querySelector(".clause-changes").textContent = "";
    this.dialog.querySelector(".clause-summary").textContent = "正在计算……";
    this.applyButton.disabled = true;
    var position = this.dialog.querySelector(".clause-position");
    position.hidden = action === "renumber";
    this.dialog.querySelector(".clause-position-label").textContent = action === "chapter" ? "新章从哪里开始" : "插入位置";
    this.post({ action: "outline", body: this.body }).then(function (outline) {
      self.fillPositions(outline.clauses);
      self.ask();
    }).catch(function () { self.failed(); });
    if (!this.dialog.open) { this.dialog.showModal(); }
  };

  ClauseTools.prototype.fillPositions = function (clauses) {
    var select = this.select, action = this.action;
    select.textContent = "";
    function option(value, label) { var o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o); }
    if (action === "clause") {
      option(0, "全文最前面（作为新的第一条）");
      clauses.forEach(function (c, i) { option(i + 1, "在 " + c.label + "（" + c.excerpt + "）之后"); });
    } else {
      clauses.forEach(function (c, i) { option(i + 1, "在 " + c.label + "（" + c.excerpt + "）之前"); });
      option(clauses.length + 1, "全文最后");
    }
    if (clauses.length) { select.value = String(action === "clause" ? clauses.length : clauses.length + 1); }
  };

  ClauseTools.prototype.ask = function () {
    var self = this, action = this.action === "clause" ? "insert_clause" : this.action === "chapter" ? "insert_chapter" : "renumber";
    // Only the answer to the latest question counts: an earlier one arriving late would otherwise
    // show, and 应用 would insert at, a position the user has since changed.
    var asked = this.asked = (this.asked || 0) + 1;
    this.result = null;
    this.applyButton.disabled = true;
    this.post({ action: action, body: this.body, position: parseInt(this.select.value || "0", 10) }).then(function (result) {
      if (asked !== self.asked) { return; }
      self.result = result;
      self.applyButton.disabled = false;
      self.show(result);
    }).catch(function () { if (asked === self.asked) { self.failed(); } });
  };

  ClauseTools.prototype.show = function (result) {
    var list = this.dialog.querySelector(".clause-changes"), summary = this.dialog.querySelector(".clause-summary");
    list.textContent = "";
    result.changes.forEach(function (change) {
      var li = document.createElement("li");
      li.className = "clause-change";
      li.textContent = change.old + " → " + change.new + (change.excerpt ? "　" + change.excerpt : "") + (change.kind === "引用" ? "（引用，第 " + change.line + " 行）" : "");
      list.appendChild(li);
    });
    var moved = result.changes.filter(function (c) { return c.old !== "（新增）"; }).length;
    summary.textContent = this.action === "renumber" && !result.changes.length ? "条、章序号已经连续，无需调整。"
      : "应用后将作如下调整（" + (this.action === "renumber" ? "" : "新增 1 处，") + "重新编号 " + moved + " 处）：";
  };

  ClauseTools.prototype.failed = function () {
    this.result = null;
    this.dialog.querySelector(".clause-summary").textContent = "暂时无法计算编号，请稍后再试。正文没有改动。";
  };

  /* ---- The editor ---- */

  function mermaidReady() {
    if (!window.zhengaiLoadMermaid) { return Promise.reject(new Error("no loader")); }
    return window.zhengaiLoadMermaid();
  }

  function setUp(form) {
    var area = document.querySelector("textarea.body-input");
    var host = document.getElementById("body-editor");
    var token = form.querySelector("input[name=csrf_token]").value;
    var original = area.value;
    var state = { dirty: form.dataset.posted === "true", saving: false, editor: null };
    var fieldsAtLoad = null;

    function otherFields() {
      var data = new FormData(form), out = [];
      data.forEach(function (value, name) {  /* the 修订说明 alone is nothing to lose */
        if (name !== "body" && name !== "csrf_token" && name !== "message") { out.push(name + "=" + value); }
      });
      return out.join("&");
    }
    function unsaved() { return state.dirty || (fieldsAtLoad !== null && otherFields() !== fieldsAtLoad); }
    function changed() { state.dirty = true; }

    function value() { return state.editor ? state.editor.getValue() : area.value; }
    function write() {
      if (!state.editor || !state.dirty) { return; }  /* untouched: the textarea still holds the text as loaded */
      area.value = preserve(state.editor.vditor.lute, original, state.editor.getValue());
    }

    var clauseTools = new ClauseTools({
      url: form.dataset.clausesUrl,
      token: token,
      getValue: value,
      apply: function (body) { state.editor.setValue(body); changed(); }
    });

    /* A pause in typing: would the server refuse this body (rendering limits)? Say so now, with
       the line, rather than on saving. One check at a time; the server answers 429 when busy. */
    var problem = document.getElementById("body-problem"), timer = null, asked = 0;
    function previewPayload() {  /* the document or draft whose pictures the body shows */
      var payload = { body: value() };
      if (form.dataset.previewDraft) { payload.draft = parseInt(form.dataset.previewDraft, 10); }
      if (form.dataset.previewCode) { payload.code = form.dataset.previewCode; }
      return payload;
    }
    function checkLater() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var mine = ++asked;
        fetch(form.dataset.previewUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": token },
          body: JSON.stringify(previewPayload())
        }).then(function (response) { return response.ok ? response.json() : null; }).then(function (data) {
          if (!data || mine !== asked) { return; }
          problem.textContent = data.problem ? "保存时将被拒绝：" + data.problem : "";
          problem.hidden = !data.problem;
        }).catch(function () { /* checked again on saving */ });
      }, 1500);
    }

    /* 插入图片 (button, paste, drop): each picture is checked and committed by the server at once
       (editor_pictures.py), which answers its Markdown reference and the new commit the form's
       `base` must name from now on; the typed text stays here until the user saves it. */
    var pictureProblem = document.getElementById("picture-problem");
    var baseField = form.querySelector("input[name=base]");
    function showPictureProblem(text) {
      pictureProblem.textContent = text || "";
      pictureProblem.hidden = !text;
    }
    function uploadPicture(file) {
      var data = new FormData();
      data.append("picture", file, file.name || "粘贴的图片.png");
      data.append("base", baseField ? baseField.value : "");
      return fetch(form.dataset.picturesUrl, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token }, body: data
      }).then(function (response) {
        return response.json().catch(function () { return { error: "图片未插入（服务器返回 " + response.status + "），请稍后重试。" }; });
      });
    }
    function insertPictures(files) {
      showPictureProblem("");
      var chain = Promise.resolve(null);
      Array.prototype.forEach.call(files, function (file) {
        chain = chain.then(function (failed) {
          if (failed) { return failed; }
          return uploadPicture(file).then(function (answer) {
            if (!answer || answer.error || !answer.reference) { return (answer && answer.error) || "图片未插入，请稍后重试。"; }
            if (baseField) { baseField.value = answer.base; }
            state.editor.insertValue("\n![图片](" + answer.reference + ")\n");
            changed();
            return null;
          });
        });
      });
      return chain.then(function (failed) {
        if (failed) { showPictureProblem(failed); }
        return failed;  /* Vditor shows a returned message as its own tip too */
      }, function () {
        var text = "网络错误，图片未插入；您输入的正文仍在编辑器中。";
        showPictureProblem(text);
        return text;
      });
    }

    function custom(name, label, tip, click) {
      return { name: name, tip: tip, tipPosition: "s", className: "zh-tool", icon: "<span class=\"zh-tool-label\">" + label + "</span>", click: click };
    }

    var toolbar = [
      "headings", "bold", "italic", "strike", "|", "list", "ordered-list", "quote",
      custom("zh-table", "表格", "插入表格（光标在表格中时，表格上方的按钮可增删行列）", function () {
        paste(state.editor, "text/plain", TABLE);
        changed();
      }),
      "link",
    ].concat(form.dataset.picturesUrl ? [{ name: "upload", tip: "插入图片（PNG 或 JPG；也可直接粘贴或拖入图片）", tipPosition: "s" }] : []).concat([
      "|",
      custom("clause", "插入条", "插入一条（第N条），其后各条自动顺延", function () { clauseTools.open("clause"); }),
      custom("chapter", "插入章", "插入一章（第N章），其后各章自动顺延", function () { clauseTools.open("chapter"); }),
      custom("renumber", "重排序号", "把全文的第N条、第N章重新连续编号", function () { clauseTools.open("renumber"); }),
      custom("flowchart", "流程图", "插入流程图", function () {
        mermaidReady().catch(function () { /* drawn later, or shown as text */ }).then(function () {
          paste(state.editor, "text/plain", FLOWCHART);
          changed();
        });
      }),
      "|", "undo", "redo", "|", "edit-mode", "fullscreen"
    ]);

    function start() {
      host.hidden = false;
      document.querySelector(".body-source").hidden = true;
      document.querySelector(".editor-tip").hidden = false;
      var top = host.getBoundingClientRect().top + window.scrollY;
      var height = Math.max(420, Math.min(window.innerHeight - Math.min(top, window.innerHeight * 0.45) - 24, 1400));
      state.editor = new window.Vditor(host, {
        value: original,
        mode: form.dataset.sourceMode === "true" ? "sv" : "wysiwyg",
        lang: "zh_CN",
        cdn: "/static/vendor/vditor-4.0.0",  /* never fetched from: every file it needs is on the page */
        height: height,
        minHeight: 320,
        placeholder: "在这里输入正文……",
        cache: { enable: false },
        counter: { enable: false },
        resize: { enable: false },
        outline: { enable: false, position: "left" },
        toolbar: toolbar,
        toolbarConfig: { pin: true },
        tab: "\t",
        preview: {
          theme: { current: "", path: "" },
          hljs: { enable: false },
          markdown: {
            autoSpace: false, fixTermTypo: false, gfmAutoLink: false, footnotes: false, toc: false, mark: false, sanitize: true,
            codeBlockPreview: true, mathBlockPreview: false,
            linkBase: form.dataset.linkBase || ""  /* A101Z/images/… shown from the picture route; trimmed again on saving */
          }
        },
        upload: form.dataset.picturesUrl ? {
          accept: "image/png,image/jpeg", multiple: true, handler: insertPictures
        } : {},
        input: function () {
          changed();
          checkLater();
          var root = state.editor && state.editor.vditor.wysiwyg && state.editor.vditor.wysiwyg.element;
          if (root && !window.mermaid && root.querySelector("[data-subtype='mermaid']")) {
            mermaidReady().then(function () { window.Vditor.mermaidRender(root, "", "classic"); }, function () { /* stays text */ });
          }
        },
        after: function () {
          fieldsAtLoad = otherFields();
          form.dataset.editorReady = "true";
          window.zhengaiEditor = state.editor;
        }
      });
    }

    if (MERMAID_FENCE.test(original)) {
      mermaidReady().then(start, start);  /* the body has a flowchart: draw it from the start */
    } else {
      start();
    }

    host.addEventListener("paste", function (event) {
      var data = event.clipboardData;
      if (repasting || !data || !state.editor || state.editor.getCurrentMode() === "sv") { return; }
      var html = data.getData("text/html"), cleaned = null, table = null;
      if (html && (OFFICE.test(html) || /<table/i.test(html))) {
        cleaned = cleanOfficeHtml(html);
      } else if (!html) {
        table = tableFromTabs(data.getData("text/plain") || "");
      }
      if (cleaned === null && table === null) { return; }  /* the editor's own paste handling */
      event.preventDefault();
      event.stopPropagation();
      if (cleaned !== null) { paste(state.editor, "text/html", cleaned); } else { paste(state.editor, "text/plain", table); }
      changed();
    }, true);

    area.addEventListener("input", changed);
    /* The editor reports its changes after a pause; a save may come sooner. Anything that can
       change the text marks it (an edit undone is caught on saving: `preserve` gives back the original). */
    ["input", "compositionend", "cut", "drop"].forEach(function (type) { host.addEventListener(type, changed, true); });
    host.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest(".vditor-toolbar button, .vditor-panel button");
      if (button && ["fullscreen", "edit-mode"].indexOf(button.dataset.type) === -1) { changed(); }
    }, true);
    form.addEventListener("submit", function () {
      write();
      state.saving = true;
    });
    /* a refused save shows the page again: the text typed is still unsaved */
    window.addEventListener("pageshow", function () { state.saving = false; });

    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    }, true);

    window.addEventListener("beforeunload", function (event) {
      if (state.saving || !unsaved()) { return; }
      event.preventDefault();
      event.returnValue = "";  /* browsers show their own wording: 离开此网站？所做的更改可能不会保存 */
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("document-form");
    if (form && window.Vditor && document.querySelector("textarea.body-input")) { setUp(form); }
  });

  window.zhengaiPreserveBlocks = preserve;  /* for the browser tests and the curious */
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
