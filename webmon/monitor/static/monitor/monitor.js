// webmon: a little plain JavaScript. Loaded from a static file (the CSP allows no inline script).
// - Pages with <body data-refresh-seconds> reload themselves while #auto-refresh is checked.
// - The run page's log (#log-lines[data-follow-url]) is followed live while the run runs, its heading's count too.
// - The run page's dependency graph is scrolled so the run's own box (.stage-current) is in view.
// Text from the server is only ever inserted with textContent, never as HTML.
(function () {
  "use strict";

  function autoRefresh() {
    var seconds = parseInt(document.body.getAttribute("data-refresh-seconds") || "0", 10);
    var box = document.getElementById("auto-refresh");
    if (!seconds || !box) { return; }
    var key = "webmon.autoRefresh";
    if (window.localStorage && localStorage.getItem(key) === "off") { box.checked = false; }
    box.addEventListener("change", function () {
      if (window.localStorage) { localStorage.setItem(key, box.checked ? "on" : "off"); }
    });
    window.setInterval(function () {
      if (box.checked && document.visibilityState !== "hidden") { window.location.reload(); }
    }, seconds * 1000);
  }

  function cell(row, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function followLog() {
    var table = document.getElementById("log-lines");
    var url = table && table.getAttribute("data-follow-url");
    if (!url) { return; }
    var follow = document.getElementById("log-follow");
    var status = document.getElementById("log-status");
    var body = table.tBodies[0];
    var empty = document.getElementById("log-empty");
    var base = url.split("?")[0];
    var query = new URLSearchParams(url.split("?")[1] || "");
    var timer = null;
    // Sentences in the page's language, from the server (data-text-*); English if absent.
    function text(name, fallback, value) {
      var found = table.getAttribute("data-text-" + name) || fallback;
      return found.replace("{status}", value === undefined ? "" : value);
    }

    function say(line) { if (status) { status.textContent = line; } }

    // The heading's "N lines": every line of the run (the server's count, whatever the filter shows).
    var count = document.getElementById("log-count");
    function counted(n) {
      if (!count || typeof n !== "number" || n < parseInt(count.getAttribute("data-count") || "0", 10)) { return; }
      var form = count.getAttribute(n === 1 ? "data-text-one" : "data-text-other") || "{n} lines";
      count.setAttribute("data-count", String(n));
      count.textContent = form.replace("{n}", String(n));
    }

    function append(line) {
      var row = document.createElement("tr");
      row.className = "log-line level-" + String(line.level).toLowerCase();
      row.setAttribute("data-seq", line.seq);
      cell(row, "log-seq", line.seq);
      cell(row, "log-ts", line.time || String(line.ts).slice(11, 23));  // time: in the page's time zone
      cell(row, "log-level", line.level);
      cell(row, "log-logger", line.logger);
      var msg = cell(row, "log-message", "");
      var span = document.createElement("span");
      span.className = "log-text";
      span.textContent = line.message;
      msg.appendChild(span);
      if (line.cut && line.full_url) {
        var link = document.createElement("a");
        link.className = "show-full";
        link.href = line.full_url;
        link.textContent = " " + text("show-full", "show full line");
        msg.appendChild(link);
      }
      body.appendChild(row);
    }

    function poll() {
      if (follow && !follow.checked) { timer = window.setTimeout(poll, 2000); return; }
      fetch(base + "?" + query.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (data.error) { say(data.error); timer = window.setTimeout(poll, 5000); return; }
          (data.lines || []).forEach(append);
          counted(data.log_lines);
          if (data.lines && data.lines.length) {
            if (empty) { empty.hidden = true; }
            query.set("after", String(data.after));
            if (!follow || follow.checked) { window.scrollTo(0, document.body.scrollHeight); }
          }
          if (data.running || data.more) {
            say(text("following", "Following: run is {status}.", data.status_label || data.status));
            timer = window.setTimeout(poll, data.more ? 200 : 2000);
          } else {
            say(text("finished", "The run finished ({status}). Reload for the final state.", data.status_label || data.status));
            var runStatus = document.getElementById("run-status");
            if (runStatus) {
              runStatus.textContent = data.status_label || data.status;
              runStatus.setAttribute("data-status", data.status);
            }
          }
        })
        .catch(function () { say(text("unreachable", "Cannot reach webmon; retrying.")); timer = window.setTimeout(poll, 5000); });
    }
    timer = window.setTimeout(poll, 2000);
  }

  // A workflow's top task is the rightmost box of a graph wider than the page: without this, its run
  // page opens on the requirements and the task itself is off to the right.
  function showCurrentTask() {
    var current = document.querySelector("#dag-graph .stage-current rect");
    var box = current && current.closest(".scroll-x");
    if (!box) { return; }
    var shown = box.getBoundingClientRect();
    var task = current.getBoundingClientRect();
    if (task.right > shown.right || task.left < shown.left) {
      box.scrollLeft += task.left - shown.left - Math.max(0, (shown.width - task.width) / 2);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    autoRefresh();
    followLog();
    showCurrentTask();
  });
}());
