// The lab's control panel. Plain JavaScript, no build step: it talks to the storefront's control API
// (/lab/scenarios, /lab/reset, /lab/history) and the panel's own endpoints (/lab/panel, /lab/live, /lab/reports),
// always with the control token as a bearer token. Every value from the server is written with textContent.
"use strict";

(() => {
  const TOKEN_KEY = "lab.controlToken";
  const LIVE_EVERY_MS = 1000;
  const STATE_EVERY_MS = 2000;
  const REPORTS_EVERY_MS = 10000;
  const NOW_SECONDS = 3;
  const MIN_CHART_SECONDS = 60;

  const $ = (selector, root = document) => root.querySelector(selector);
  const panel = {
    settings: null,
    catalog: [],
    active: { version: 0, activations: [] },
    history: [],
    live: null,
    clockOffsetMs: 0, // server clock minus browser clock, from /lab/live
    charts: null,
    timers: [],
  };
  window.labPanel = panel; // for curious users and the end-to-end tests

  // ---------- DOM helpers ----------

  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") element.className = value;
      else if (key === "dataset") Object.assign(element.dataset, value);
      else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  const fieldId = (scenario, key) => `f-${scenario}-${key}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const errorId = (scenario, key) => `e-${scenario}-${key}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const fmt = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits));
  const fmtMs = (ms) => (ms === null || ms === undefined ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
  const time = (date) => new Date(date).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const serverNow = () => Date.now() + panel.clockOffsetMs;

  function setConnection(text, bad = false) {
    const element = $("#connection");
    element.textContent = text;
    element.classList.toggle("bad", bad);
  }

  // ---------- token and API ----------

  class Unauthorized extends Error {}

  async function api(path, { method = "GET", body } = {}) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) throw new Unauthorized("No token given.");
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json", "X-Lab-Actor": "control-panel" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch (error) {
      setConnection("The storefront does not answer: is the lab still up?", true);
      throw error;
    }
    const type = response.headers.get("Content-Type") || "";
    const payload = type.includes("json") ? await response.json() : await response.text();
    if (response.status === 401) {
      const problem = typeof payload === "object" ? payload : {};
      signOut(`The token was refused (${problem.title || "401"}). Paste the token that lab up printed, or open the link it printed.`);
      throw new Unauthorized(problem.title || "Unauthorized");
    }
    setConnection(`Connected to ${location.host}`);
    return { ok: response.ok, status: response.status, body: payload };
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    panel.timers.forEach(clearTimeout);
    panel.timers = [];
    $("#app").hidden = true;
    $("#forget").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
    $("#token").focus();
  }

  async function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
    $("#login-error").textContent = "";
    let result;
    try {
      result = await api("/lab/panel");
    } catch (error) {
      if (!(error instanceof Unauthorized)) {
        $("#login-error").textContent = `The storefront did not answer (${error.message}).`;
        $("#login").hidden = false;
      }
      return;
    }
    if (!result.ok) {
      $("#login-error").textContent = `The storefront answered ${result.status}.`;
      return;
    }
    panel.settings = result.body;
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#forget").hidden = false;
    start();
  }

  // ---------- polling ----------

  function every(ms, task) {
    const run = async () => {
      try {
        await task();
      } catch (error) {
        if (error instanceof Unauthorized) return; // signed out; stop this loop
        console.warn(error);
      }
      if (sessionStorage.getItem(TOKEN_KEY)) panel.timers.push(setTimeout(run, ms));
    };
    run();
  }

  async function start() {
    createCharts();
    await refreshCatalog();
    every(LIVE_EVERY_MS, refreshLive);
    every(STATE_EVERY_MS, refreshState);
    every(REPORTS_EVERY_MS, refreshReports);
    panel.timers.push(setInterval(renderTimeLeft, 1000));
  }

  async function refreshState() {
    const [active, history] = await Promise.all([api("/lab/scenarios/active"), api("/lab/history?limit=200")]);
    if (active.ok) panel.active = active.body;
    if (history.ok) panel.history = history.body;
    renderActive();
    renderMarkers();
    markActiveInCatalog();
  }

  async function refreshCatalog() {
    const result = await api("/lab/scenarios");
    if (!result.ok) return;
    panel.catalog = result.body;
    renderCatalog();
    await refreshState();
  }

  // ---------- live view ----------

  function createCharts() {
    if (panel.charts || typeof uPlot === "undefined") return;
    const width = () => Math.max(320, $("#chart-traffic").clientWidth || 600);
    const markerPlugin = {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          const [min, max] = [u.scales.x.min, u.scales.x.max];
          ctx.save();
          ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
          for (const marker of markersInWindow()) {
            if (marker.t < min || marker.t > max) continue;
            const x = Math.round(u.valToPos(marker.t, "x", true));
            ctx.strokeStyle = marker.color;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillStyle = marker.color;
            // Labels near the right edge go to the left of their line, so they are not cut off.
            const labelWidth = ctx.measureText(marker.label).width;
            const right = x + 4 * devicePixelRatio + labelWidth > u.bbox.left + u.bbox.width;
            ctx.fillText(marker.label, right ? x - 4 * devicePixelRatio - labelWidth : x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
          }
          ctx.restore();
        }],
      },
    };
    const axis = { stroke: "#4d5562", grid: { stroke: "#e6e8ec" }, ticks: { stroke: "#d5d9e0" } };
    const x = { ...axis, space: 70, values: (u, ticks) => ticks.map((t) => time(t * 1000).slice(0, 5 + (ticks.length > 1 && ticks[1] - ticks[0] < 60 ? 3 : 0))) };
    const traffic = new uPlot({
      width: width(), height: 190, plugins: [markerPlugin], cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, rate: { auto: true, range: (u, min, max) => [0, Math.max(5, max * 1.1)] }, pct: { range: [0, 100] } },
      axes: [x, { ...axis, scale: "rate", label: "req/s" }, { ...axis, scale: "pct", side: 1, label: "errors %", grid: { show: false } }],
      series: [
        {},
        { label: "req/s", scale: "rate", stroke: "#0b57d0", width: 2, fill: "rgba(11,87,208,0.08)", value: (u, v) => fmt(v) },
        { label: "errors %", scale: "pct", stroke: "#b3261e", width: 2, value: (u, v) => (v === null ? "–" : `${v.toFixed(1)}%`) },
      ],
    }, [[], [], []], $("#chart-traffic"));
    const latency = new uPlot({
      width: width(), height: 190, plugins: [markerPlugin], cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, ms: { auto: true, range: (u, min, max) => [0, Math.max(10, max * 1.1)] } },
      axes: [x, { ...axis, scale: "ms", label: "ms" }],
      series: [
        {},
        { label: "p50", scale: "ms", stroke: "#146c2e", width: 2, spanGaps: false, value: (u, v) => fmtMs(v) },
        { label: "p99", scale: "ms", stroke: "#8e24aa", width: 2, spanGaps: false, value: (u, v) => fmtMs(v) },
      ],
    }, [[], [], []], $("#chart-latency"));
    panel.charts = { traffic, latency };
    window.addEventListener("resize", () => {
      for (const chart of [traffic, latency]) chart.setSize({ width: width(), height: 190 });
    });
  }

  function markersInWindow() {
    const points = panel.live?.points || [];
    if (points.length === 0) return [];
    const from = points[0].t;
    const colors = { enabled: "#b3261e", changed: "#a15c00", disabled: "#146c2e", expired: "#146c2e", reset: "#146c2e" };
    return panel.history
      .map((entry) => ({
        t: Date.parse(entry.at) / 1000,
        label: `${entry.action} ${entry.name || ""}`.trim(),
        color: colors[entry.action] || "#4d5562",
        entry,
      }))
      .filter((marker) => marker.t >= from)
      .sort((a, b) => a.t - b.t);
  }

  async function refreshLive() {
    const result = await api("/lab/live");
    if (!result.ok) return;
    const live = result.body;
    panel.live = live;
    panel.clockOffsetMs = Date.parse(live.now) - Date.now();
    // The charts start at the first second with traffic (at least a minute back), so a young lab's chart is not mostly empty.
    const first = live.points.findIndex((p) => p.requests > 0);
    const points = live.points.slice(Math.max(0, Math.min(first < 0 ? Infinity : first, live.points.length - MIN_CHART_SECONDS)));
    if (panel.charts) {
      const xs = points.map((p) => p.t);
      panel.charts.traffic.setData([xs, points.map((p) => p.requests), points.map((p) => (p.requests ? p.errorRate * 100 : null))]);
      panel.charts.latency.setData([xs, points.map((p) => p.p50 ?? null), points.map((p) => p.p99 ?? null)]);
    }
    renderNow(live.points.slice(-NOW_SECONDS));
    renderRequests($("#slow tbody"), live.slowest, "No requests in the window yet.");
    renderRequests($("#failed tbody"), live.failures, "No failed requests.");
  }

  // The figures of the last few seconds, also kept as data attributes (numbers) on #live-now.
  function renderNow(points) {
    const requests = points.reduce((sum, p) => sum + p.requests, 0);
    const errors = points.reduce((sum, p) => sum + p.errors, 0);
    const busy = points.filter((p) => p.requests > 0);
    const rate = requests / Math.max(1, points.length);
    const errorRate = requests ? errors / requests : 0;
    // Request-weighted p50; the worst second's p99 (a percentile of percentiles would hide a bad second).
    const p50 = busy.length ? busy.reduce((sum, p) => sum + p.p50 * p.requests, 0) / requests : null;
    const p99 = busy.length ? Math.max(...busy.map((p) => p.p99)) : null;
    const now = $("#live-now");
    Object.assign(now.dataset, {
      rate: rate.toFixed(2), requests: String(requests), errors: String(errors), errorRate: errorRate.toFixed(4),
      p50: p50 === null ? "" : p50.toFixed(2), p99: p99 === null ? "" : p99.toFixed(2), updated: String(Date.now()),
    });
    $("#now-rate").textContent = fmt(rate, rate < 10 ? 1 : 0);
    $("#now-errors").textContent = requests ? `${(errorRate * 100).toFixed(1)}%` : "–";
    $("#now-errors").classList.toggle("alarm", errorRate >= 0.01);
    $("#now-p50").textContent = fmtMs(p50);
    $("#now-p99").textContent = fmtMs(p99);
  }

  function traceLinks(traceId) {
    if (!traceId || /^0+$/.test(traceId)) return "–";
    const links = [];
    const { aspireTraceLink, jaegerTraceLink } = panel.settings || {};
    if (aspireTraceLink) links.push(h("a", { href: aspireTraceLink.replace("{traceId}", traceId), target: "_blank", rel: "noopener", title: `Trace ${traceId} in the Aspire dashboard` }, "Aspire"));
    if (jaegerTraceLink) links.push(h("a", { href: jaegerTraceLink.replace("{traceId}", traceId), target: "_blank", rel: "noopener", title: `Trace ${traceId} in Jaeger` }, "Jaeger"));
    if (links.length === 0) return h("code", { title: "No telemetry viewer configured" }, traceId.slice(0, 12));
    return links.flatMap((link, i) => (i ? [" ", link] : [link]));
  }

  function renderRequests(tbody, requests, empty) {
    const rows = requests.length
      ? requests.map((r) => h("tr", {},
        h("td", {}, time(r.at)),
        h("td", {}, h("code", {}, `${r.method} ${r.route}`)),
        h("td", {}, String(r.status)),
        h("td", { class: "num" }, fmt(r.ms, r.ms < 10 ? 1 : 0)),
        h("td", {}, traceLinks(r.traceId))))
      : [h("tr", {}, h("td", { colspan: 5, class: "note" }, empty))];
    tbody.replaceChildren(...rows);
  }

  function renderMarkers() {
    const markers = markersInWindow();
    $("#marker-count").textContent = String(markers.length);
    $("#markers").replaceChildren(...markers.slice().reverse().map((m) =>
      h("li", {}, h("time", { datetime: m.entry.at }, time(m.entry.at)), ` ${m.label}`, m.entry.actor ? ` (by ${m.entry.actor})` : "")));
    if (panel.charts) {
      panel.charts.traffic.redraw(false, false);
      panel.charts.latency.redraw(false, false);
    }
  }

  // ---------- active scenarios ----------

  const describeTarget = (target) => {
    const parts = Object.entries(target || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
    return parts.length ? parts.map(([k, v]) => `${k}=${v}`).join(", ") : "everywhere";
  };

  function renderActive() {
    const activations = panel.active.activations || [];
    $("#active-empty").hidden = activations.length > 0;
    $("#active-table").hidden = activations.length === 0;
    $("#active-table tbody").replaceChildren(...activations.map((a) => h("tr", { dataset: { scenario: a.name } },
      h("th", { scope: "row" }, h("code", {}, a.name)),
      h("td", {},
        h("div", { class: "mono" }, Object.entries(a.parameters).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k}=${v}`).join(", ")),
        h("div", { class: "note" }, `target: ${describeTarget(a.target)}; seed ${a.seed}; by ${a.activatedBy}`)),
      h("td", { class: "time-left", dataset: { expiresAt: a.expiresAt } }, timeLeft(a.expiresAt)),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "small quiet", "aria-label": `Change ${a.name}`, onclick: () => openForChange(a) }, "Change"),
        h("button", { type: "button", class: "small", "aria-label": `Disable ${a.name}`, onclick: () => disable(a.name) }, "Disable")))));
  }

  function timeLeft(expiresAt) {
    const seconds = Math.max(0, Math.round((Date.parse(expiresAt) - serverNow()) / 1000));
    const m = Math.floor(seconds / 60);
    return `${m}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function renderTimeLeft() {
    document.querySelectorAll("#active-table td.time-left").forEach((cell) => {
      cell.textContent = timeLeft(cell.dataset.expiresAt);
    });
  }

  function say(message, bad = false) {
    const element = $("#active-message");
    element.textContent = message;
    element.classList.toggle("bad", bad);
  }

  async function disable(name) {
    const result = await api(`/lab/scenarios/${encodeURIComponent(name)}`, { method: "DELETE" });
    say(result.ok ? `${name} disabled.` : problemText(result.body), !result.ok);
    await refreshState();
  }

  async function resetAll() {
    const count = (panel.active.activations || []).length;
    if (!confirm(`Switch every scenario off${count ? ` (${count} active)` : ""}?`)) return;
    const result = await api("/lab/reset", { method: "POST" });
    say(result.ok ? "Reset: every scenario is off." : problemText(result.body), !result.ok);
    await refreshState();
  }

  const problemText = (problem) =>
    typeof problem === "object" && problem ? [problem.title, problem.detail].filter(Boolean).join(": ") : String(problem);

  // ---------- catalog and forms ----------

  function renderCatalog() {
    const byCategory = new Map();
    for (const status of panel.catalog) {
      const category = status.meta.category;
      if (!byCategory.has(category)) byCategory.set(category, []);
      byCategory.get(category).push(status.meta);
    }
    const categories = [...byCategory.keys()].sort();
    $("#catalog-list").replaceChildren(...categories.map((category) =>
      h("section", { class: "category", dataset: { category }, "aria-label": `Category ${category}` },
        h("h3", {}, category),
        byCategory.get(category).sort((a, b) => a.name.localeCompare(b.name)).map(renderScenario))));
    applySearch();
  }

  function renderScenario(meta) {
    const runbook = meta.runbook;
    return h("details", { class: "scenario", id: `scenario-${meta.name}`, dataset: { name: meta.name, search: [meta.name, meta.category, meta.description, meta.signature, (meta.targets || []).join(" ")].join(" ").toLowerCase() } },
      h("summary", {}, h("span", { class: "name" }, meta.name), h("span", { class: "badge", hidden: true }, "active"), h("span", { class: "desc" }, meta.description)),
      h("div", { class: "scenario-body" },
        h("div", {},
          h("dl", {},
            h("dt", {}, "What it does"), h("dd", {}, meta.description),
            h("dt", {}, "Acts at"), h("dd", {}, (meta.targets || []).join(", ")),
            h("dt", {}, "Signature"), h("dd", {}, meta.signature),
            h("dt", {}, "Cure"), h("dd", {}, meta.cure || "None built in.")),
          h("h4", {}, "Runbook"),
          h("dl", { class: "runbook" },
            h("dt", {}, "Break"), h("dd", {}, h("code", {}, runbook.break)),
            h("dt", {}, "Hint"), h("dd", {}, runbook.hint),
            h("dt", {}, "Verify"), h("dd", {}, runbook.verify),
            h("dt", {}, "Restore"), h("dd", {}, runbook.restore))),
        renderForm(meta)));
  }

  function rangeText(p) {
    const parts = [`default ${p.default}`];
    if (p.min !== undefined && p.max !== undefined) parts.push(`${p.min} to ${p.max}`);
    else if (p.min !== undefined) parts.push(`at least ${p.min}`);
    else if (p.max !== undefined) parts.push(`at most ${p.max}`);
    if (p.type === "duration") parts.push("e.g. 250ms, 2s, 5m");
    if (p.type === "percent") parts.push("e.g. 25%");
    if (p.type === "bytes") parts.push("e.g. 64KB, 16MB");
    if (p.cap && p.cap !== "none") parts.push(`capped by the lab (${p.cap})`);
    return parts.join("; ");
  }

  function field(scenario, key, label, control, help, unit) {
    control.id = fieldId(scenario, key);
    control.dataset.key = key;
    const describedBy = [help ? `${control.id}-help` : null, errorId(scenario, key)].filter(Boolean).join(" ");
    control.setAttribute("aria-describedby", describedBy);
    return h("div", { class: "field" },
      h("label", { for: control.id }, label, unit ? h("span", { class: "unit" }, ` (${unit})`) : null),
      control,
      help ? h("p", { class: "help", id: `${control.id}-help` }, help) : null,
      h("p", { class: "field-error", id: errorId(scenario, key) }));
  }

  function parameterControl(p) {
    switch (p.type) {
      case "bool":
        return h("input", { type: "checkbox", name: p.name, checked: p.default === "true", dataset: { kind: "parameter" } });
      case "enum":
        return h("select", { name: p.name, dataset: { kind: "parameter" } },
          (p.allowedValues || []).map((v) => h("option", { value: v, selected: v === p.default }, v)));
      case "int":
      case "double":
        // No min/max on the element: the API checks ranges and its message is shown next to the field.
        return h("input", { type: "text", inputmode: p.type === "int" ? "numeric" : "decimal", name: p.name, value: p.default, dataset: { kind: "parameter" } });
      default:
        return h("input", { type: "text", name: p.name, value: p.default, spellcheck: "false", dataset: { kind: "parameter" } });
    }
  }

  function renderForm(meta) {
    const name = meta.name;
    const targetKeys = panel.settings?.targetKeys || [];
    const form = h("form", { class: "enable", novalidate: true, dataset: { scenario: name }, "aria-label": `Enable ${name}` },
      h("fieldset", {}, h("legend", {}, "Parameters"),
        meta.parameters.length
          ? meta.parameters.map((p) => field(name, p.name, p.name, parameterControl(p), `${p.description} (${rangeText(p)})`, p.unit && p.unit !== "duration" && p.unit !== "%" ? p.unit : null))
          : h("p", { class: "note" }, "No parameters.")),
      h("fieldset", {}, h("legend", {}, "Target (empty fields match everything)"),
        h("div", { class: "targets" }, targetKeys.map((key) =>
          field(name, `target.${key}`, key, h("input", { type: "text", name: key, spellcheck: "false", dataset: { kind: "target" }, placeholder: targetPlaceholder(key) }), null)))),
      h("fieldset", {}, h("legend", {}, "Activation"),
        field(name, "ttl", "time to live", h("input", { type: "text", name: "ttl", value: "5m", dataset: { kind: "ttl" } }), "Switched off after this long, e.g. 90s, 10m."),
        field(name, "seed", "seed", h("input", { type: "text", inputmode: "numeric", name: "seed", dataset: { kind: "seed" } }), "Optional: the same seed repeats the same random choices.")),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "submit" }, "Enable"),
        h("p", { class: "message form-message", role: "status", "aria-live": "polite" })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitForm(form, meta);
    });
    return form;
  }

  function targetPlaceholder(key) {
    return {
      service: "storefront, silo-1, payments...", grainInterface: "IInventoryGrain", grainMethod: "ReserveAsync",
      repositoryOperation: "inventory.*", route: "/api/products*", sku: "SKU-00001", remoteHost: "127.0.0.1:5200", percentage: "0-100",
    }[key] || "";
  }

  function readForm(form) {
    const body = { parameters: {}, target: {} };
    for (const control of form.querySelectorAll("[data-kind]")) {
      const value = control.type === "checkbox" ? (control.checked ? "true" : "false") : control.value.trim();
      switch (control.dataset.kind) {
        case "parameter": body.parameters[control.name] = value; break;
        case "target": if (value) body.target[control.name] = value; break;
        case "ttl": if (value) body.ttl = value; break;
        case "seed": if (value) body.seed = value; break;
      }
    }
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    $(".form-message", form).textContent = "";
    $(".form-message", form).classList.remove("bad");
  }

  async function submitForm(form, meta) {
    clearErrors(form);
    const button = $("button.submit", form);
    button.disabled = true;
    const changing = form.dataset.mode === "change";
    try {
      const result = await api(`/lab/scenarios/${encodeURIComponent(meta.name)}`, { method: "POST", body: readForm(form) });
      const message = $(".form-message", form);
      if (result.ok) {
        message.textContent = `${meta.name} ${changing ? "changed" : "enabled"}.`;
        say(message.textContent);
        setMode(form, "enable");
        await refreshState();
        return;
      }
      // 400: the API's problem details, keyed by parameter ("rate"), "target.X", "ttl", "seed" or "body".
      const errors = (result.body && result.body.errors) || {};
      let first = null;
      const unplaced = [];
      for (const [key, messages] of Object.entries(errors)) {
        const slot = document.getElementById(errorId(meta.name, key));
        const control = document.getElementById(fieldId(meta.name, key));
        if (slot && control) {
          slot.textContent = messages.join(" ");
          control.setAttribute("aria-invalid", "true");
          first = first || control;
        } else {
          unplaced.push(`${key}: ${messages.join(" ")}`);
        }
      }
      message.classList.add("bad");
      message.textContent = [problemText(result.body), ...unplaced].join(" ");
      (first || button).focus();
    } finally {
      button.disabled = false;
    }
  }

  function setMode(form, mode) {
    form.dataset.mode = mode;
    $("button.submit", form).textContent = mode === "change" ? "Apply change" : "Enable";
  }

  // "Change" opens the scenario's form with the activation's values; applying it enables the scenario again with them.
  function openForChange(activation) {
    const details = document.getElementById(`scenario-${activation.name}`);
    if (!details) return;
    $("#search").value = "";
    applySearch();
    details.open = true;
    const form = $("form.enable", details);
    clearErrors(form);
    for (const control of form.querySelectorAll("[data-kind]")) {
      const kind = control.dataset.kind;
      const value = kind === "parameter" ? activation.parameters[control.name]
        : kind === "target" ? activation.target?.[control.name]
        : kind === "seed" ? activation.seed
        : kind === "ttl" ? `${Math.max(1, Math.ceil((Date.parse(activation.expiresAt) - serverNow()) / 60000))}m` : undefined;
      if (control.type === "checkbox") control.checked = value === "true";
      else control.value = value === undefined || value === null ? "" : String(value);
    }
    setMode(form, "change");
    details.scrollIntoView({ block: "start", behavior: "smooth" });
    const first = form.querySelector("[data-kind]");
    if (first) first.focus({ preventScroll: true });
  }

  function markActiveInCatalog() {
    const active = new Set((panel.active.activations || []).map((a) => a.name));
    document.querySelectorAll("details.scenario").forEach((details) => {
      const on = active.has(details.dataset.name);
      details.classList.toggle("is-active", on);
      $(".badge", details).hidden = !on;
    });
  }

  function applySearch() {
    const words = $("#search").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    document.querySelectorAll("details.scenario").forEach((details) => {
      const match = words.every((w) => details.dataset.search.includes(w));
      details.hidden = !match;
      if (match) shown++;
    });
    document.querySelectorAll("#catalog-list .category").forEach((section) => {
      section.hidden = !section.querySelector("details.scenario:not([hidden])");
    });
    $("#catalog-count").textContent = `${shown} of ${panel.catalog.length} scenarios`;
  }

  // ---------- load reports ----------

  async function refreshReports() {
    const result = await api("/lab/reports");
    if (!result.ok) return;
    const reports = result.body;
    const directory = panel.settings?.reportsDirectory;
    $("#reports-note").textContent = reports.length
      ? `The newest ${reports.length} from ${directory}.`
      : directory ? `No reports yet. lab load writes one per run into ${directory} (or pass --out there).` : "No reports directory configured (Lab:ReportsDirectory).";
    $("#reports-table").hidden = reports.length === 0;
    $("#reports-table tbody").replaceChildren(...reports.map((r) => h("tr", { dataset: { report: r.id } },
      h("td", {}, h("time", { datetime: r.startedAt }, new Date(r.startedAt).toLocaleString())),
      h("td", {}, `${r.model}, ${fmt(r.seconds)} s`, r.passed ? null : h("span", { class: "error" }, " thresholds failed")),
      h("td", { class: "num" }, fmt(r.rate, 1)),
      h("td", { class: "num" }, fmt(r.p99, 1)),
      h("td", { class: "num" }, `${r.errors} (${(r.errorRate * 100).toFixed(1)}%)`),
      h("td", { class: "actions" }, r.hasHtml
        ? h("button", { type: "button", class: "small quiet", "aria-label": `View the report of ${new Date(r.startedAt).toLocaleString()}`, onclick: () => viewReport(r) }, "View")
        : null))));
  }

  async function viewReport(report) {
    const result = await api(`/lab/reports/${encodeURIComponent(report.id)}/html`);
    if (!result.ok) return;
    const html = String(result.body);
    const frame = $("#report-frame");
    frame.srcdoc = html;
    const tab = $("#report-tab");
    if (tab.dataset.url) URL.revokeObjectURL(tab.dataset.url);
    tab.dataset.url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    tab.href = tab.dataset.url;
    $("#report-title").textContent = `Report of ${new Date(report.startedAt).toLocaleString()}`;
    $("#report-view").hidden = false;
    frame.focus();
  }

  // ---------- start-up ----------

  document.addEventListener("DOMContentLoaded", () => {
    $("#login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      signIn($("#token").value);
    });
    $("#forget").addEventListener("click", () => signOut("Token forgotten. Paste it again to continue."));
    $("#reset").addEventListener("click", resetAll);
    $("#search").addEventListener("input", applySearch);
    $("#report-close").addEventListener("click", () => { $("#report-view").hidden = true; });
    if (typeof uPlot === "undefined") setConnection("The chart library is missing (build the storefront with npm available).", true);

    // A link from `lab up` carries the token in the fragment, which browsers never send to the server; keep it
    // for this tab only and take it out of the address bar and history.
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) signIn(token);
    else signOut("");
  });
})();
