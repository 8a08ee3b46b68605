// The devstack's status page: polls /status.json and redraws. No framework, no build
// step, nothing fetched from elsewhere; text goes in through the DOM, never as HTML.
"use strict";

(() => {
  const POLL_MS = 1500;
  const SVG = "http://www.w3.org/2000/svg";
  const byId = (id) => document.getElementById(id);

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== undefined && value !== null) node.setAttribute(name, value);
    }
    node.append(...children.filter((child) => child !== undefined && child !== null));
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  const TONES = {
    healthy: "ok", closed: "ok", succeeded: "ok", paid: "ok", yes: "ok",
    degraded: "warn", half_open: "warn", pending: "warn", processing: "warn", submitted: "warn",
    unhealthy: "bad", open: "bad", failed: "bad", no: "bad",
    partially_refunded: "info", refunded: "info",
  };

  function badge(text) {
    return el("span", { class: `badge ${TONES[text] || ""}` }, text.replaceAll("_", " "));
  }

  // A line through the points that have a value (gaps where none), on a zero baseline.
  function sparkline(values, { width = 120, height = 26, max } = {}) {
    const top = Math.max(max ?? 0, ...values.filter((v) => v !== null), 1e-9);
    const x = (i) => (values.length < 2 ? width / 2 : (i * (width - 2)) / (values.length - 1) + 1);
    const y = (v) => height - 2 - (v / top) * (height - 4);
    const chart = svg("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}` });
    chart.append(svg("line", { class: "base", x1: 0, x2: width, y1: height - 1, y2: height - 1 }));
    let run = [];
    const flush = () => {
      if (run.length === 1) chart.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5 }));
      if (run.length > 1) chart.append(svg("polyline", { points: run.map((p) => p.join(",")).join(" ") }));
      run = [];
    };
    values.forEach((v, i) => (v === null ? flush() : run.push([x(i).toFixed(1), y(v).toFixed(1)])));
    flush();
    return chart;
  }

  function bars(values, { width = 300, height = 40 } = {}) {
    const top = Math.max(...values, 1);
    const step = width / values.length;
    const chart = svg("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}` });
    chart.append(svg("line", { class: "base", x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5 }));
    values.forEach((v, i) => {
      if (v === 0) return;
      const h = Math.max(1, (v / top) * (height - 2));
      chart.append(svg("rect", { class: "bar", x: (i * step).toFixed(1), y: (height - h).toFixed(1),
        width: Math.max(1, step - 0.5).toFixed(1), height: h.toFixed(1) }));
    });
    return chart;
  }

  const percent = (share) => (share === null ? "–" : `${(share * 100).toFixed(share === 1 ? 0 : 1)} %`);
  const millis = (ms) => (ms === null ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);
  const clock = (rfc3339) => new Date(rfc3339).toLocaleTimeString("en-GB");

  function money(minor, currency) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch (_) { /* an unknown code keeps two */ }
    return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function renderGateways(gateways, spanSecs) {
    byId("span-note").textContent = `· calls over the last ${Math.round(spanSecs / 60)} minutes`;
    fill(byId("gateways").tBodies[0], gateways.map((g) => el("tr", { "data-gateway": g.name },
      el("td", { class: "mono" }, g.enabled ? g.name : `${g.name} (disabled)`),
      el("td", {}, badge(g.health)),
      el("td", {}, badge(g.breaker)),
      el("td", {}, badge(g.available ? "yes" : "no")),
      el("td", { class: "num" }, String(g.recent.calls)),
      el("td", { class: "num" }, percent(g.recent.success_rate)),
      el("td", { title: "success rate per 10 s" }, sparkline(g.recent.success_rate_series, { max: 1 })),
      el("td", { class: "num" }, millis(g.recent.p95_ms)),
      el("td", { title: "p95 latency per 10 s" }, sparkline(g.recent.p95_ms_series)),
    )));
  }

  function renderRate(rate) {
    byId("rate").textContent = rate.now.toFixed(1);
    byId("rate-chart").replaceChildren(bars(rate.per_second));
  }

  function trailLink(id, url, text) {
    const link = el("a", { href: url, class: "mono", title: "its events" }, text);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      // In the address too, so the page can be shared or reloaded showing this trail.
      history.replaceState(null, "", `#deposit=${id}`);
      showTrail(id, url);
    });
    return link;
  }

  function renderDeposits(deposits) {
    byId("no-deposits").hidden = deposits.length > 0;
    fill(byId("deposits").tBodies[0], deposits.map((d) => el("tr", { "data-deposit": d.id },
      el("td", {}, trailLink(d.id, d.events_url, d.id)),
      el("td", { class: "status" }, badge(d.status)),
      el("td", { class: "num" }, money(d.amount, d.currency)),
      el("td", {}, d.country),
      el("td", { class: "mono" }, d.gateway ?? "–"),
      el("td", { class: "muted" }, clock(d.created_at)),
    )));
  }

  function renderAnomalies(anomalies) {
    byId("no-anomalies").hidden = anomalies.length > 0;
    fill(byId("anomalies").tBodies[0], anomalies.map((a) => el("tr", {},
      el("td", {}, badge(a.kind), " ", el("span", { class: "mono" }, a.gateway),
        el("div", { class: "muted" }, a.detail),
        el("div", {}, trailLink(a.deposit_id, a.events_url, `${a.direction} ${a.deposit_id.slice(0, 8)}…`),
          " ", el("span", { class: "muted" }, clock(a.occurred_at)))),
    )));
  }

  async function showTrail(id, url) {
    const panel = byId("trail");
    panel.hidden = false;
    byId("trail-id").textContent = id;
    const list = byId("trail-events");
    try {
      const reply = await fetch(url, { cache: "no-store" });
      const trail = await reply.json();
      if (!reply.ok) throw new Error(trail.error || reply.status);
      list.replaceChildren(...trail.data.map((e) => el("li", {},
        el("span", { class: "muted" }, `v${e.version} · ${clock(e.occurred_at)} · `),
        el("strong", {}, e.type),
        el("code", {}, JSON.stringify(e.data)),
      )));
    } catch (error) {
      list.replaceChildren(el("li", { class: "empty" }, `could not load the events: ${error.message}`));
    }
  }

  async function poll() {
    const meta = byId("meta");
    try {
      const reply = await fetch("/status.json", { cache: "no-store" });
      const status = await reply.json();
      if (!reply.ok) throw new Error(status.error || reply.status);
      renderGateways(status.gateways, status.span_secs);
      renderRate(status.deposits_per_second);
      renderDeposits(status.deposits);
      renderAnomalies(status.anomalies);
      meta.className = "";
      meta.textContent = `merchant ${status.merchant} · updated ${clock(status.generated_at)}`;
    } catch (error) {
      meta.className = "down";
      meta.textContent = `cannot reach the devstack (${error.message}); retrying`;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  const shared = /^#deposit=([0-9a-f-]+)$/.exec(location.hash);
  if (shared) showTrail(shared[1], `/status/deposits/${shared[1]}/events.json`);
  poll();
})();
