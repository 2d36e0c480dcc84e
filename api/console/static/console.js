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

document.addEventListener("DOMContentLoaded", () => {
  if (!document.getElementById("chart")) return;
  document.getElementById("chart-point").addEventListener("change", refreshChart);
  refreshChart();
  setInterval(refreshChart, REFRESH_MS);
});
