/* loadlens run report: draws the document in #loadlens-data with uPlot (inlined above).
   Every text from the run goes through textContent, never innerHTML. */
(function () {
  "use strict";
  var timeCharts = [], otherCharts = [], syncing = false, current = null, chosen = null;
  // The time range the reader zoomed to (null: the whole run), kept across a live page's redraws.
  var zoom = null, rendering = false;
  // The reader's other choices, also kept across redraws: the table's order, the distribution shown.
  var sort = { key: "count", dir: -1 }, chosenDist = null;

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) node.append(arguments[i]);
    return node;
  }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function colour(i) { return cssVar("--s" + ((i % 6) + 1)); }
  function num(v, unit) {
    if (v == null || !isFinite(v)) return "—";
    var a = Math.abs(v), s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
    if (unit === "Bytes") return bytes(v);
    return s + (unit ? " " + unit : "");
  }
  function bytes(v) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return v.toFixed(v >= 100 ? 0 : 1) + " " + units[i];
  }
  function chartWidth(box) { return Math.max(280, (box.clientWidth || 900) - 14); }
  // How many values a chart drew (its series, not its x axis): a chart with none says so on the page.
  function counted(box, data) {
    var n = 0;
    data.slice(1).forEach(function (col) { col.forEach(function (v) { if (v != null && isFinite(v)) n++; }); });
    box.setAttribute("data-points", String(n));
    if (!n) box.append(el("p", { class: "note", text: "no data" }));
  }

  // -- drawing aids: phases, the judged window, the first breach, load steps, limit lines --------------
  function overlays(doc, limits) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
          (doc.phases || []).forEach(function (p) {
            var x0 = u.valToPos(p.start, "x", true), x1 = u.valToPos(p.end, "x", true);
            ctx.fillStyle = cssVar("--phase-" + (p.kind || "steady"));
            ctx.fillRect(Math.min(x0, x1), top, Math.abs(x1 - x0), h);
          });
        }],
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, dpr = devicePixelRatio || 1;
          ctx.save();
          ctx.lineWidth = dpr;
          var w = doc.meta.window;
          [w.t_start, w.t_end].forEach(function (t) {
            var x = u.valToPos(t, "x", true);
            ctx.strokeStyle = cssVar("--window"); ctx.setLineDash([4 * dpr, 4 * dpr]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
          });
          ctx.setLineDash([]);
          (doc.marks || []).forEach(function (m) {
            var x = u.valToPos(m.at, "x", true);
            ctx.strokeStyle = cssVar(m.kind === "breach" ? "--breach" : "--window");
            ctx.lineWidth = (m.kind === "breach" ? 2 : 1) * dpr;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
            if (m.kind === "breach") {
              ctx.fillStyle = cssVar("--breach"); ctx.font = (11 * dpr) + "px system-ui, sans-serif";
              ctx.fillText("first breach", x + 4 * dpr, top + 12 * dpr);
            }
          });
          (limits || []).forEach(function (l) {
            var y = u.valToPos(l.value, "y", true);
            ctx.strokeStyle = cssVar("--limit"); ctx.lineWidth = dpr; ctx.setLineDash([6 * dpr, 3 * dpr]);
            ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
            ctx.fillStyle = cssVar("--limit"); ctx.font = (11 * dpr) + "px system-ui, sans-serif";
            ctx.fillText(l.text, u.bbox.left + 4 * dpr, y - 3 * dpr);
          });
          ctx.restore();
        }],
        setScale: [function (u, key) {
          if (key !== "x" || syncing) return;
          if (!rendering && u.status === 1) zoom = { min: u.scales.x.min, max: u.scales.x.max };
          syncing = true;
          timeCharts.forEach(function (o) { if (o !== u) o.setScale("x", { min: u.scales.x.min, max: u.scales.x.max }); });
          syncing = false;
        }],
      },
    };
  }

  function yRange(limits) {
    return function (u, min, max) {
      var hi = max == null ? 1 : max, lo = min == null ? 0 : Math.min(0, min);
      (limits || []).forEach(function (l) { hi = Math.max(hi, l.value); });
      if (hi <= lo) hi = lo + 1;
      return [lo, hi * 1.08];
    };
  }

  function timeChart(parent, doc, title, unit, t, series, limits, note) {
    var box = el("div", { class: "chart", "data-chart": title });
    parent.append(box);
    var fg = cssVar("--fg"), grid = cssVar("--line");
    var opts = {
      title: title, width: chartWidth(box), height: 220,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      cursor: { sync: { key: "loadlens", setSeries: false }, drag: { x: true, y: false } },
      scales: { x: { time: true, min: doc.meta.t_start, max: doc.meta.t_end }, y: { range: yRange(limits) } },
      axes: [
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, size: 64, label: unit, labelSize: 16,
          values: function (u, vals) { return vals.map(function (v) { return num(v, unit === "Bytes" ? "Bytes" : ""); }); } },
      ],
      series: [{ label: "time (UTC)" }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: s.color || colour(i), width: 1.5, dash: s.dash, spanGaps: false,
          value: function (u, v) { return num(v, unit === "Bytes" ? "Bytes" : ""); } };
      })),
      plugins: [overlays(doc, limits)],
    };
    var data = [t].concat(series.map(function (s) { return s.values; }));
    var u = new uPlot(opts, data, box);
    box.addEventListener("dblclick", function () { zoom = null; });  // after uPlot's own reset
    counted(box, data);
    if (note) box.append(el("p", { class: "note", text: note }));
    timeCharts.push(u);
    return u;
  }

  // -- sections -----------------------------------------------------------------------------------
  function header(root, doc) {
    var m = doc.meta;
    var title = el("h1", { text: "loadlens run " + m.run_id });
    if (doc.live) title.append(el("span", { class: "live", id: "live-badge", text: "live · updated " + new Date().toISOString().slice(11, 19) + " UTC" }));
    root.append(title);
    var dl = el("dl", { class: "meta" });
    [["scenario", m.scenario], ["target host", m.host], ["run id", m.run_id], ["locustfile", m.locustfile],
     ["start (UTC)", m.start], ["end (UTC)", m.end],
     ["judged window", m.window.start + " → " + m.window.end + " (" + m.window.kind + ")"],
     ["versions", Object.keys(m.versions).map(function (k) { return k + " " + m.versions[k]; }).join(", ") || "—"],
    ].forEach(function (row) { dl.append(el("dt", { text: row[0] }), el("dd", { text: row[1] || "—" })); });
    dl.append(el("dt", { text: "command" }), el("dd", null, el("code", { text: m.command || "—" })));
    if (m.interrupted) dl.append(el("dt", { text: "interrupted" }), el("dd", { text: "yes: the verdict covers only what ran" }));
    root.append(dl);
    root.append(el("div", { class: "banner " + doc.verdict.status, id: "verdict", text: doc.verdict.line }));
  }

  function criteria(root, doc) {
    root.append(el("h2", { text: "Criteria" }));
    if (!doc.criteria.length) { root.append(el("p", { class: "muted", text: "No criteria were judged." })); return; }
    var table = el("table", { id: "criteria" });
    table.append(el("thead", null, row("th", ["criterion", "observed", "limit", "status", "reason"], [1, 2])));
    var body = el("tbody");
    doc.criteria.forEach(function (c) {
      var tr = el("tr", { "data-status": c.status });
      var name = c.criterion && c.criterion !== c.name ? c.name + ": " + c.criterion : c.name;
      tr.append(el("td", { text: name }), el("td", { class: "num", text: c.observed }), el("td", { class: "num", text: c.limit }),
        el("td", { class: "status " + c.status, text: c.status }), el("td", { text: c.reason }));
      body.append(tr);
    });
    table.append(body);
    root.append(table);
  }

  function row(cell, values, numeric) {
    var tr = el("tr");
    values.forEach(function (v, i) { tr.append(el(cell, { class: numeric.indexOf(i) >= 0 ? "num" : "", text: v })); });
    return tr;
  }

  function phaseLegend(root) {
    var p = el("p", { class: "phase-legend" });
    [["--phase-ramp", "ramp-up"], ["--phase-warm", "warm-up"], ["--phase-steady", "steady state, judged (dashed edges)"],
     ["--phase-step", "load step (judged)"], ["--phase-cool", "cool-down"],
     ["--breach", "first breach"], ["--limit", "limit"]].forEach(function (x) {
      var i = el("i"); i.style.background = cssVar(x[0]);
      p.append(el("span", null, i, x[1]));
    });
    root.append(p);
  }

  function clientCharts(root, doc) {
    root.append(el("h2", { text: "Over time (UTC; drag to zoom, double-click to reset)" }));
    phaseLegend(root);
    var breach = (doc.marks || []).filter(function (m) { return m.kind === "breach"; })[0];
    if (breach) root.append(el("p", { id: "first-breach", text: "First breach: " + breach.text }));
    var grid = el("div", { class: "charts", id: "time-charts" });
    root.append(grid);
    var c = doc.client;
    timeChart(grid, doc, "users", "users", c.t, [{ label: "users", values: c.users }]);
    timeChart(grid, doc, "requests/s", "/s", c.t, [
      { label: "ok", values: c.rps_ok, color: cssVar("--pass") },
      { label: "failed", values: c.rps_failed, color: cssVar("--fail") },
      { label: "expected statuses", values: c.rps_expected, color: cssVar("--warn") }]);
    timeChart(grid, doc, "latency, all requests", "ms", c.t, [
      { label: "p50", values: c.p50_ms }, { label: "p95", values: c.p95_ms }, { label: "p99", values: c.p99_ms }]);
    endpointChart(grid, doc);
    timeChart(grid, doc, "error rate", "%", c.t, [{ label: "errors %", values: c.error_percent, color: cssVar("--fail") }]);
    if (doc.server.length) root.append(el("h2", { text: "Server" }));
    var sgrid = el("div", { class: "charts", id: "server-charts" });
    root.append(sgrid);
    doc.server.forEach(function (s) {
      timeChart(sgrid, doc, s.label, s.unit === "Percent" ? "%" : s.unit, s.t, [{ label: s.metric + " (" + s.stat + ")", values: s.v }], s.limits);
    });
    if (doc.server_missing.length) {
      var ul = el("ul", { class: "muted" });
      doc.server_missing.forEach(function (r) { ul.append(el("li", { text: r })); });
      root.append(el("p", { class: "muted", text: "Server metrics asked for and not answered:" }), ul);
    }
  }

  // The chosen endpoint's p50/p95/p99 on the shared time axis (a <select> of the busiest endpoints).
  function endpointChart(grid, doc) {
    var e = doc.endpoint_latency;
    if (!e || !e.names.length) return;
    if (chosen == null || e.names.indexOf(chosen) < 0) chosen = e.names[0];
    var holder = el("div", { id: "endpoint-chart" });
    var select = el("select", { id: "endpoint-select", "aria-label": "endpoint" });
    e.names.forEach(function (n) { var o = el("option", { text: n }); o.value = n; if (n === chosen) o.selected = true; select.append(o); });
    var wrap = el("div", null, select, holder);
    grid.append(wrap);
    var u = null;
    function draw() {
      if (u) { timeCharts.splice(timeCharts.indexOf(u), 1); u.destroy(); }
      holder.replaceChildren();
      var i = e.names.indexOf(chosen), lines = [];
      if ((e.p50[i] || []).length) lines.push({ label: "p50", values: e.p50[i] });
      lines.push({ label: "p95", values: e.values[i] });
      if ((e.p99[i] || []).length) lines.push({ label: "p99", values: e.p99[i] });
      u = timeChart(holder, doc, "latency of " + chosen, "ms", e.t, lines);
      if (zoom) u.setScale("x", zoom);  // the shared axis: a new choice keeps the others' zoom
      expose();
    }
    select.addEventListener("change", function () { chosen = select.value; draw(); });
    draw();
  }

  function correlationChart(root, doc) {
    var c = doc.correlation;
    if (!c || !c.cpu.length) return;
    root.append(el("h2", { text: "Client against server: per period, by " + c.cpu_label }));
    var box = el("div", { class: "chart", "data-chart": "correlation" });
    root.append(box);
    var fg = cssVar("--fg"), grid = cssVar("--line");
    var series = [{ label: c.cpu_label + " %" },
      { label: "p95 ms", scale: "ms", stroke: colour(0), paths: function () { return null; }, points: { show: true, size: 7, fill: colour(0) } },
      { label: "rps", scale: "rps", stroke: colour(3), paths: function () { return null; }, points: { show: true, size: 7, fill: colour(3) } }];
    var data = [c.cpu.slice(), c.p95_ms.slice(), c.rps.slice()];  // copies: a redraw starts again
    // The analysis' own headroom line (CPU = a + b x rps), its ends merged into the CPU axis: solid
    // over the rps it was fitted on, dotted on to the CPU limit at the estimate.
    var parts = c.line ? [["headroom line (rps)", c.line, null]] : [];
    if (c.line && c.line.to_limit) parts.push(["to the CPU limit (rps)", c.line.to_limit, [2, 4]]);
    parts.forEach(function (part) {
      series.push({ label: part[0], scale: "rps", stroke: colour(2), width: 2, dash: part[2] || undefined, spanGaps: true, points: { show: false } });
      data.push(data[0].map(function () { return null; }));
    });
    parts.forEach(function (part, k) {
      [0, 1].forEach(function (end) {
        var x = part[1].cpu[end], i = 0;
        while (i < data[0].length && data[0][i] < x) i++;
        data.forEach(function (col, j) { col.splice(i, 0, j === 0 ? x : j === 3 + k ? part[1].rps[end] : null); });
      });
    });
    var limit = c.cpu_limit_percent;
    var u = new uPlot({
      title: "p95 and rps against " + c.cpu_label, width: chartWidth(box), height: 260,
      scales: { x: { time: false }, ms: { range: yRange([]) }, rps: { range: yRange([]) } },
      axes: [{ stroke: fg, grid: { stroke: grid }, label: c.cpu_label + " %" },
        { scale: "ms", stroke: fg, grid: { stroke: grid }, label: "p95 ms", size: 60 },
        { scale: "rps", side: 1, stroke: fg, grid: { show: false }, label: "rps", size: 60 }],
      series: series,
      hooks: { draw: [function (u) {
        if (limit == null) return;
        var x = u.valToPos(limit, "x", true), ctx = u.ctx, dpr = devicePixelRatio || 1;
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.save(); ctx.strokeStyle = cssVar("--limit"); ctx.setLineDash([6 * dpr, 3 * dpr]); ctx.lineWidth = dpr;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
      }] },
    }, data, box);
    counted(box, data);
    box.append(el("p", { class: "note", id: "headroom-line", text: c.line_note || "" }));
    box.append(el("p", { class: "note", text: c.summary + (c.caveat ? " (" + c.caveat + ")" : "") }));
    otherCharts.push(u);
  }

  function trendCharts(root, doc) {
    if (!doc.trends.length) return;
    root.append(el("h2", { text: "Soak trends (Theil–Sen slope over the judged window)" }));
    var grid = el("div", { class: "charts", id: "trend-charts" });
    root.append(grid);
    doc.trends.forEach(function (tr) {
      var t = tr.t.slice(), v = tr.v.slice(), line = t.map(function () { return null; });
      if (tr.line) {
        // the fitted line's two ends, merged into the series' time axis
        [0, 1].forEach(function (k) {
          var at = tr.line.t[k], i = 0;
          while (i < t.length && t[i] < at) i++;
          t.splice(i, 0, at); v.splice(i, 0, null); line.splice(i, 0, tr.line.v[k]);
        });
      }
      var unit = tr.unit === "Percent" ? "%" : tr.unit;
      var u = timeChart(grid, doc, "trend: " + tr.label, unit, t, [
        { label: tr.label, values: v }, { label: "slope", values: line, color: cssVar("--limit"), dash: [6, 4] }], [], tr.text);
      u.series[2].spanGaps = true;
      u.redraw();
    });
  }

  var COLUMNS = [["endpoint", "name"], ["requests", "count"], ["failures", "failures"], ["failed by status", "failed_statuses"],
    ["p50 ms", "p50_ms"], ["p95 ms", "p95_ms"], ["p99 ms", "p99_ms"], ["max ms", "max_ms"], ["rps", "rps"]];

  function endpointTable(root, doc) {
    root.append(el("h2", { text: "Endpoints (" + doc.meta.window.kind + ")" }));
    if (!doc.endpoints.length) { root.append(el("p", { class: "muted", text: "No requests in the judged window." })); return; }
    var total = doc.endpoints[0], rows = doc.endpoints.slice(1);
    var table = el("table", { id: "endpoints" }), head = el("tr"), body = el("tbody");
    COLUMNS.forEach(function (col, i) {
      var th = el("th", { class: "sortable" + (i ? " num" : ""), "data-key": col[1], text: col[0] });
      th.addEventListener("click", function () {
        sort = { key: col[1], dir: sort.key === col[1] ? -sort.dir : (i ? -1 : 1) };
        fill();
      });
      head.append(th);
    });
    table.append(el("thead", null, head), body);
    function cells(r, strong) {
      var tr = el("tr");
      COLUMNS.forEach(function (col, i) {
        var v = r[col[1]];
        if (col[1] === "failed_statuses") v = Object.keys(v).map(function (k) { return (k === "0" ? "no response" : k) + ": " + v[k]; }).join(", ") || "—";
        else if (i > 0) v = col[1] === "count" || col[1] === "failures" ? String(v) : num(v, "");
        var td = el("td", { class: i ? "num" : "", text: v });
        if (strong) td.style.fontWeight = "700";
        tr.append(td);
      });
      return tr;
    }
    function fill() {
      rows.sort(function (a, b) {
        var x = a[sort.key], y = b[sort.key];
        if (typeof x === "object" && x) { x = Object.keys(x).length; y = Object.keys(y).length; }
        if (x == null) return 1; if (y == null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
      });
      head.querySelectorAll("th").forEach(function (th) {
        th.classList.remove("sorted-asc", "sorted-desc");
        if (th.getAttribute("data-key") === sort.key) th.classList.add(sort.dir > 0 ? "sorted-asc" : "sorted-desc");
      });
      body.replaceChildren();
      rows.forEach(function (r) { body.append(cells(r, false)); });
      body.append(cells(total, true));
    }
    fill();
    root.append(el("div", { class: "scroll" }, table));
  }

  function distributionChart(root, doc) {
    var rows = doc.endpoints;
    if (!rows.length) return;
    root.append(el("h2", { text: "Latency distribution (judged window, from the stored histograms)" }));
    var select = el("select", { id: "distribution-select", "aria-label": "endpoint" });
    rows.forEach(function (r) {
      var o = el("option", { text: r.name }); o.value = r.name; if (r.name === chosenDist) o.selected = true; select.append(o);
    });
    var box = el("div", { class: "chart", "data-chart": "distribution" });
    root.append(select, box);
    var u = null;
    function draw() {
      if (u) { otherCharts.splice(otherCharts.indexOf(u), 1); u.destroy(); }
      box.replaceChildren();
      var r = rows.filter(function (x) { return x.name === select.value; })[0] || rows[0];
      var d = r.distribution, fg = cssVar("--fg"), grid = cssVar("--line");
      u = new uPlot({
        title: "requests by latency: " + r.name, width: chartWidth(box), height: 220,
        scales: { x: { time: false, distr: 3 }, y: { range: yRange([]) } },
        axes: [{ stroke: fg, grid: { stroke: grid }, label: "ms (bin upper edge, log scale)" }, { stroke: fg, grid: { stroke: grid }, size: 60 }],
        series: [{ label: "≤ ms" }, { label: "requests", stroke: colour(0), fill: colour(0) + "88", paths: uPlot.paths.bars({ size: [0.9, 40] }) }],
      }, [d.le_ms, d.count], box);
      counted(box, [d.le_ms, d.count]);
      otherCharts.push(u);
    }
    select.addEventListener("change", function () { chosenDist = select.value; draw(); });
    draw();
  }

  function failuresTable(root, doc) {
    root.append(el("h2", { text: "Failures (Locust)" }));
    if (!doc.failures.length) { root.append(el("p", { class: "muted", text: "No failures." })); return; }
    var table = el("table", { id: "failures" });
    table.append(el("thead", null, row("th", ["method", "name", "error", "occurrences"], [3])));
    var body = el("tbody");
    doc.failures.forEach(function (f) { body.append(row("td", [f.method, f.name, f.error, f.occurrences], [3])); });
    table.append(body);
    root.append(el("div", { class: "scroll" }, table));
  }

  function overlayCharts(root, doc) {
    if (!doc.overlay) return;
    root.append(el("h2", { text: "Runs overlaid (seconds since each run's start)" }));
    var grid = el("div", { class: "charts", id: "overlay-charts" });
    root.append(grid);
    var fg = cssVar("--fg"), gridc = cssVar("--line");
    [["p95_ms", "p95 ms"], ["rps", "requests/s"], ["users", "users"], ["error_percent", "error rate %"]].forEach(function (m) {
      var joined = uPlot.join(doc.overlay.map(function (r) { return [r.t, r[m[0]]]; }));
      var box = el("div", { class: "chart", "data-chart": "overlay " + m[1] });
      grid.append(box);
      var u = new uPlot({
        title: m[1], width: chartWidth(box), height: 220,
        cursor: { sync: { key: "loadlens-overlay" } },
        scales: { x: { time: false }, y: { range: yRange([]) } },
        axes: [{ stroke: fg, grid: { stroke: gridc }, label: "s since start" }, { stroke: fg, grid: { stroke: gridc }, size: 60 }],
        series: [{ label: "s" }].concat(doc.overlay.map(function (r, i) {
          return { label: r.run_id + " (" + r.verdict + ")", stroke: colour(i), width: 1.5, spanGaps: true };
        })),
      }, joined, box);
      counted(box, joined);
      otherCharts.push(u);
    });
  }

  // `loadlens compare --html`: the comparison's rows, as the console shows them, changed ones first.
  function comparisonTable(root, doc) {
    var c = doc.comparison;
    if (!c) return;
    root.append(el("h2", { text: "Compared with baseline " + c.baseline }));
    c.warnings.forEach(function (w) { root.append(el("p", { class: "status fail", text: "not comparable: " + w })); });
    root.append(el("p", { id: "comparison-outcome", text: c.outcome }));
    var table = el("table", { id: "comparison" });
    table.append(el("thead", null, row("th", c.header, [2, 3, 4, 5])));
    var body = el("tbody");
    c.rows.forEach(function (r) {
      var tr = row("td", r.cells, [2, 3, 4, 5]);
      tr.setAttribute("data-status", r.status);
      tr.title = r.reason;
      tr.lastChild.className = "status " + r.status.replace(" ", "-");
      body.append(tr);
    });
    table.append(body);
    root.append(el("div", { class: "scroll" }, table));
    if (c.left_out) root.append(el("p", { class: "muted", text: c.left_out + " unchanged rows left out (see compare --json)" }));
  }

  // `loadlens history --html`: one row per run, p95 per run with the change point, and the trend.
  function historySection(root, doc) {
    var h = doc.history;
    if (!h) return;
    root.append(el("h2", { text: "History (" + h.runs.length + " runs, oldest first)" }));
    var cp = h.change_point;
    var table = el("table", { id: "history" });
    var numeric = h.table[0].map(function (_x, i) { return i; }).filter(function (i) { return i >= 3; });
    table.append(el("thead", null, row("th", h.table[0], numeric)));
    var body = el("tbody");
    h.table.slice(1).forEach(function (cells, i) {
      var tr = row("td", cells, numeric);
      tr.setAttribute("data-verdict", h.runs[i].verdict);
      if (cp && h.runs[i].run_id === cp.run_id) { tr.setAttribute("data-change", "1"); tr.className = "change"; }
      body.append(tr);
    });
    table.append(body);
    root.append(el("div", { class: "scroll" }, table));
    var trend = h.trend_per_run == null ? "trend: too few runs for a trend"
      : "trend: p95 " + (h.trend_per_run >= 0 ? "+" : "") + (h.trend_per_run * 100).toFixed(1) + " % per run (Theil–Sen)";
    var change = cp ? "change point: " + cp.run_id + ": p95 " + num(cp.before_p95_ms, "ms") + " → " + num(cp.after_p95_ms, "ms") + " (" + cp.reason + ")"
      : "change point: none (no lasting change of p95 beyond 10 %)";
    root.append(el("p", { id: "history-trend", text: trend }), el("p", { id: "history-change", text: change }));
    var box = el("div", { class: "chart", "data-chart": "history p95" });
    root.append(box);
    var x = h.runs.map(function (_r, i) { return i + 1; }), p95 = h.runs.map(function (r) { return r.p95_ms; });
    var fg = cssVar("--fg"), gridc = cssVar("--line"), at = cp ? cp.index + 1 : null;
    var u = new uPlot({
      title: "p95 per run (all requests)", width: chartWidth(box), height: 220,
      scales: { x: { time: false }, y: { range: yRange([]) } },
      axes: [{ stroke: fg, grid: { stroke: gridc }, label: "run (oldest first)",
        values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? String(v) : ""; }); } },
        { stroke: fg, grid: { stroke: gridc }, size: 60, label: "ms" }],
      series: [{ label: "run", value: function (u, v) { return v == null ? "—" : (h.runs[v - 1] || {}).run_id || String(v); } },
        { label: "p95 ms", stroke: colour(0), width: 1.5, points: { show: true, size: 7, fill: colour(0) } }],
      hooks: { draw: [function (u) {
        if (at == null) return;
        var px = u.valToPos(at - 0.5, "x", true), ctx = u.ctx, dpr = devicePixelRatio || 1;
        ctx.save(); ctx.strokeStyle = cssVar("--breach"); ctx.lineWidth = 2 * dpr;
        ctx.beginPath(); ctx.moveTo(px, u.bbox.top); ctx.lineTo(px, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = cssVar("--breach"); ctx.font = (11 * dpr) + "px system-ui, sans-serif";
        ctx.fillText("change point", px + 4 * dpr, u.bbox.top + 12 * dpr); ctx.restore();
      }] },
    }, [x, p95], box);
    counted(box, [x, p95]);
    otherCharts.push(u);
  }

  function notes(root, doc) {
    if (doc.verdict.findings.length) {
      root.append(el("h2", { text: "Analysis" }));
      var ul = el("ul", { class: "findings" });
      doc.verdict.findings.forEach(function (s) { ul.append(el("li", { text: s })); });
      root.append(ul);
    }
    if (doc.verdict.notes.length) {
      root.append(el("h2", { text: "Notes" }));
      var ul2 = el("ul");
      doc.verdict.notes.forEach(function (s) { ul2.append(el("li", { text: s })); });
      root.append(ul2);
    }
  }

  function render(doc) {
    rendering = true;
    try { draw(doc); resize(); } finally { rendering = false; }
    if (zoom && timeCharts.length) timeCharts[0].setScale("x", zoom);  // the others follow
    expose();
  }

  function expose() {
    window.loadlens = { charts: timeCharts.concat(otherCharts), zoom: zoom };  // for automation and tests
  }

  function draw(doc) {
    timeCharts.concat(otherCharts).forEach(function (u) { u.destroy(); });
    timeCharts = []; otherCharts = [];
    current = doc;
    var root = document.getElementById("report");
    root.replaceChildren();
    header(root, doc);
    criteria(root, doc);
    comparisonTable(root, doc);
    historySection(root, doc);
    overlayCharts(root, doc);
    clientCharts(root, doc);
    correlationChart(root, doc);
    trendCharts(root, doc);
    endpointTable(root, doc);
    distributionChart(root, doc);
    failuresTable(root, doc);
    notes(root, doc);
    document.title = "loadlens " + doc.verdict.status.toUpperCase() + " · " + doc.meta.run_id;
    document.body.setAttribute("data-rendered", "1");
  }

  // Every chart to its box's width. Also once after drawing: a grid's first chart is drawn while it
  // is alone in its row (auto-fit spreads it over the whole row) and would overflow its box after.
  function resize() {
    timeCharts.concat(otherCharts).forEach(function (u) {
      var box = u.root.parentNode;
      u.setSize({ width: chartWidth(box), height: u.height });
    });
  }

  function poll(doc) {
    setTimeout(function again() {
      fetch(doc.live.url, { cache: "no-store" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (next) { render(next); })
        .catch(function (e) {
          var badge = document.getElementById("live-badge");
          if (badge) badge.textContent = "live · not updated: " + e.message;
        })
        .then(function () { setTimeout(again, doc.live.every_s * 1000); });
    }, doc.live.every_s * 1000);
  }

  var doc = JSON.parse(document.getElementById("loadlens-data").textContent);
  render(doc);
  window.addEventListener("resize", resize);
  // Charts take their colours when drawn: redraw them when the scheme changes, and for print (its
  // light palette, one chart per page width), and again after it.
  window.addEventListener("beforeprint", function () { render(current); });
  window.addEventListener("afterprint", function () { render(current); });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () { render(current); });
    window.matchMedia("print").addEventListener("change", function () { render(current); });
  }
  if (doc.live) poll(doc);
})();
