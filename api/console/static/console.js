// Console actions go to the API itself; the session cookie authenticates them and the console's
// header (which another site's page cannot set) marks them as sent by this console.
"use strict";
const CONSOLE_HEADER = { "X-PlantProof-Console": "1", "Content-Type": "application/json" };

async function apiPost(path, body) {
  const res = await fetch(path, { method: "POST", headers: CONSOLE_HEADER, body: JSON.stringify(body || {}),
                                  credentials: "same-origin" });
  let detail = "";
  try { detail = (await res.json()).detail || ""; } catch (e) { detail = res.statusText; }
  return { ok: res.ok, status: res.status, detail: typeof detail === "string" ? detail : JSON.stringify(detail) };
}

function showError(text) {
  const box = document.getElementById("ack-error");
  if (box) { box.textContent = text; box.hidden = false; }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-ack]");
  if (!button) return;
  button.disabled = true;
  const answer = await apiPost(`/api/v1/alarms/${button.dataset.ack}/ack`, {});
  if (answer.ok) { window.location.reload(); return; }
  button.disabled = false;
  showError(`${answer.status}: ${answer.detail}`);
});

// Verify a claim now (operators): the API runs the KPI engine and keeps the result.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-verify]");
  if (!button) return;
  button.disabled = true;
  const answer = await apiPost(`/api/v1/claims/${encodeURIComponent(button.dataset.verify)}/verify`, {});
  if (answer.ok) { window.location.reload(); return; }
  button.disabled = false;
  showError(`${answer.status}: ${answer.detail}`);
});

// Evidence: export a month's bundle (operators); verify an uploaded zip (every role).
document.addEventListener("submit", async (event) => {
  if (event.target.id === "export-form") {
    event.preventDefault();
    const answer = await apiPost("/api/v1/evidence", { window: document.getElementById("export-window").value });
    if (answer.ok) { window.location.reload(); return; }
    showError(`${answer.status}: ${answer.detail}`);
  } else if (event.target.id === "verify-form") {
    event.preventDefault();
    const file = document.getElementById("verify-file").files[0];
    const out = document.getElementById("verify-answer");
    const res = await fetch("/api/v1/evidence/verify", { method: "POST", credentials: "same-origin",
      headers: { "X-PlantProof-Console": "1", "Content-Type": "application/zip" }, body: file });
    const body = await res.json();
    out.hidden = false;
    out.dataset.status = res.ok ? body.status : String(res.status);
    out.textContent = res.ok
      ? `${body.status}: ${body.problems.length ? body.problems.map((p) => `${p.where}: ${p.message}`).join("\n")
                                                 : body.fingerprint}`
      : `${res.status}: ${JSON.stringify(body.detail)}`;
  }
});

// Management buttons: the API's own routes; the answer (or the refusal) is shown as it came.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-manage]");
  if (!button) return;
  const where = button.closest("[data-site]");
  const site = encodeURIComponent(where.dataset.site), device = encodeURIComponent(where.dataset.device);
  const out = document.getElementById("manage-answer");
  button.disabled = true;
  const answer = await apiPost(`/api/v1/devices/${site}/${device}/${button.dataset.manage}`, {});
  button.disabled = false;
  out.hidden = false;
  out.textContent = `${button.dataset.manage}: ${answer.status} ${answer.detail || (answer.ok ? "ok" : "")}`;
  out.dataset.status = String(answer.status);
});

// The live chart: a point's last minutes from the readings route, redrawn every 5 s.
const REFRESH_MS = 5000;
let plot = null;

async function refreshChart() {
  const box = document.getElementById("chart");
  const select = document.getElementById("chart-point");
  if (!box || !select || typeof uPlot === "undefined") return;
  const end = new Date(), start = new Date(end.getTime() - Number(box.dataset.minutes) * 60000);
  const path = `/api/v1/devices/${encodeURIComponent(box.dataset.site)}/${encodeURIComponent(box.dataset.device)}`
    + `/points/${encodeURIComponent(select.value)}/readings?start=${start.toISOString()}&end=${end.toISOString()}`
    + "&max_points=500";
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) return;
  const body = await res.json();
  const rows = body.mode === "raw" ? body.readings.filter((r) => r.quality === 0 && r.value !== null)
    .map((r) => [Date.parse(r.time) / 1000, r.value])
    : body.buckets.filter((b) => b.avg !== null).map((b) => [Date.parse(b.start) / 1000, b.avg]);
  const data = [rows.map((r) => r[0]), rows.map((r) => r[1])];
  box.dataset.points = String(rows.length);
  if (plot === null || plot.series[1].label !== select.value) {
    if (plot !== null) plot.destroy();
    const width = Math.max(320, Math.min(1100, box.clientWidth || 900));
    plot = new uPlot({ width, height: 260, series: [{}, { label: select.value, stroke: "#0969da", width: 1.5 }],
                       scales: { x: { time: true } } }, data, box);
  } else {
    plot.setData(data);
  }
}

// The day's state timeline: each state reading lasts until the next one (or now).
const STATE_COLOURS = ["#1a7f37", "#bf8700", "#cf222e", "#0969da", "#8250df", "#57606a", "#bc4c00"];

async function drawTimeline(box) {
  const now = new Date(), start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const path = `/api/v1/devices/${encodeURIComponent(box.dataset.site)}/${encodeURIComponent(box.dataset.device)}`
    + `/points/${encodeURIComponent(box.dataset.point)}/readings?start=${start.toISOString()}`
    + `&end=${now.toISOString()}`;  // the service's own bound on rows
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) return;
  const readings = (await res.json()).readings.filter((r) => r.quality === 0 && r.text !== null);
  const total = now.getTime() - start.getTime(), names = [];
  box.replaceChildren();
  readings.forEach((r, i) => {
    const from = Date.parse(r.time), to = i + 1 < readings.length ? Date.parse(readings[i + 1].time) : now.getTime();
    if (!names.includes(r.text)) names.push(r.text);
    const part = document.createElement("span");
    part.className = "segment";
    part.style.left = `${(100 * (from - start.getTime())) / total}%`;
    part.style.width = `${(100 * (to - from)) / total}%`;
    part.style.background = STATE_COLOURS[names.indexOf(r.text) % STATE_COLOURS.length];
    part.title = `${r.text} ${r.time}`;
    part.dataset.state = r.text;
    box.appendChild(part);
  });
  box.dataset.segments = String(readings.length);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".timeline").forEach((box) => {
    drawTimeline(box);
    setInterval(() => drawTimeline(box), 60000);
  });
  if (!document.getElementById("chart")) return;
  document.getElementById("chart-point").addEventListener("change", refreshChart);
  refreshChart();
  setInterval(refreshChart, REFRESH_MS);
});
