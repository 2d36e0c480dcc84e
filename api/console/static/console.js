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
