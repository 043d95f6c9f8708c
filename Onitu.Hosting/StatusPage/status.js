// The Onitu status page: plain JavaScript over the REST API 1.0 (/api/v1.0) and its event stream.
"use strict";

const api = "api/v1.0";
const pageSize = 20;
let filesOffset = 0;
let refreshTimer = null;

// The token comes from the link `onitu run --api` prints (#token=...): a fragment never reaches server logs.
(function takeTokenFromFragment() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem("onitu-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  document.getElementById("token").value = sessionStorage.getItem("onitu-token") || "";
})();

function token() { return sessionStorage.getItem("onitu-token") || ""; }

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${api}/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.reason || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function say(text, info) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = info ? "info" : "";
}

async function control(name, action) {
  try {
    await call("PUT", `entries/${encodeURIComponent(name)}/${action}`);
    say(`${name}: ${action} done`, true);
  } catch (e) {
    say(e.message);
  }
  refreshSoon(0);
}

async function refreshServices() {
  const [{ entries }] = await Promise.all([call("GET", "entries")]);
  const rows = await Promise.all(entries.map(async entry => {
    const status = await call("GET", `entries/${encodeURIComponent(entry.name)}/status`);
    let stats = null;
    if (status.status !== "stopped") {
      try { stats = (await call("GET", `entries/${encodeURIComponent(entry.name)}/stats`)).info; } catch { stats = null; }
    }
    return { entry, status, stats };
  }));
  const body = document.querySelector("#services tbody");
  body.replaceChildren(...rows.map(({ entry, status, stats }) => el("tr", { "data-service": entry.name },
    el("td", {}, entry.name),
    el("td", {}, entry.driver),
    el("td", {},
      el("span", { class: `badge state state-${status.state}`, "data-state": status.state }, status.state),
      status.reason ? el("span", { class: "reason" }, status.reason) : null),
    el("td", { class: "num" }, stats ? String(stats.files) : ""),
    el("td", { class: "num" }, stats ? bytes(stats.bytes_written) : ""),
    el("td", { class: "num" }, stats ? bytes(stats.rate) + "/s" : ""),
    el("td", { class: "num" }, stats ? String(stats.pending) : ""),
    el("td", {},
      status.state === "stopped"
        ? el("button", { type: "button", "data-action": "start", onclick: () => control(entry.name, "start") }, "Start")
        : el("button", { type: "button", "data-action": "stop", onclick: () => control(entry.name, "stop") }, "Stop"),
      el("button", { type: "button", "data-action": "restart", disabled: status.state === "stopped", onclick: () => control(entry.name, "restart") }, "Restart"),
      el("button", { type: "button", "data-action": "rescan", disabled: status.state === "stopped", onclick: () => control(entry.name, "rescan") }, "Rescan")))));
}

async function refreshProgress() {
  const p = await call("GET", "progress");
  document.getElementById("setup-name").textContent = p.setup;
  const state = document.getElementById("engine-state");
  state.textContent = p.running ? "running" : "stopped";
  state.className = "badge " + (p.running ? "state-running" : "state-stopped");
  document.getElementById("progress").textContent =
    `${p.pending} pending · ${p.active} in flight · ${p.files_synced} synced · ${bytes(p.bytes_transferred)} written`;
}

async function refreshTransfers() {
  const { transfers } = await call("GET", "transfers?active=true&limit=50");
  const body = document.querySelector("#transfers tbody");
  if (transfers.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { class: "muted", colSpan: 6 }, "none")));
    return;
  }
  body.replaceChildren(...transfers.map(t => el("tr", {},
    el("td", {}, `${t.folder}:${t.filename}`),
    el("td", {}, t.kind),
    el("td", {}, t.target),
    el("td", {}, t.kind === "upload" ? el("progress", { max: Math.max(t.size, 1), value: t.offset }) : null,
      " ", t.kind === "upload" ? `${bytes(t.offset)} / ${bytes(t.size)}` : ""),
    el("td", { class: "num" }, String(t.attempts)),
    el("td", {}, t.last_error || ""))));
}

async function refreshFiles() {
  const { files } = await call("GET", `files?offset=${filesOffset}&limit=${pageSize}`);
  const body = document.querySelector("#files tbody");
  body.replaceChildren(...files.map(f => el("tr", { "data-file": f.filename },
    el("td", {}, f.filename),
    el("td", {}, f.folder),
    el("td", { class: "num" }, bytes(f.size)),
    el("td", { class: "uptodate" }, f.uptodate.join(", ")),
    el("td", { class: "missing" }, f.owners.filter(o => !f.uptodate.includes(o)).join(", ")))));
  document.getElementById("files-page").textContent = files.length ? `${filesOffset + 1}–${filesOffset + files.length}` : "no files";
  document.getElementById("files-previous").disabled = filesOffset === 0;
  document.getElementById("files-next").disabled = files.length < pageSize;
}

function describe(e) {
  switch (e.type) {
    case "fileSynced": return `${e.folder}:${e.path} synced to ${e.service} from ${e.source}${e.resumed ? " (resumed)" : ""}`;
    case "fileDeleted": return `${e.folder}:${e.path} deleted on ${e.service}`;
    case "fileMoved": return `${e.folder}:${e.fromPath} moved to ${e.toFolder}:${e.toPath} on ${e.service}`;
    case "conflictDetected": return `conflict on ${e.folder}:${e.path}: ${e.losingService}'s content kept as ${e.conflictPath}`;
    case "transferFailed": return `${e.folder}:${e.path} to ${e.service} failed${e.willRetry ? " (will retry)" : ""}: ${e.error}`;
    case "fileSkipped": return `${e.folder}:${e.path} skipped on ${e.service}: ${e.reason}`;
    case "serviceStateChanged": return `${e.service} is ${e.state}${e.reason ? ": " + e.reason : ""}`;
    default: return JSON.stringify(e);
  }
}

function showEvent(e) {
  const time = new Date(e.time * 1000).toLocaleTimeString(); // the API's times are seconds since the epoch
  const list = document.getElementById("events");
  list.prepend(el("li", { class: e.type }, `${time} ${describe(e)}`));
  while (list.children.length > 200) list.lastChild.remove();
  if (e.type === "conflictDetected") {
    document.getElementById("conflicts").prepend(el("li", {}, `${time} ${describe(e)}`));
  }
}

async function refreshAll() {
  try {
    await Promise.all([refreshProgress(), refreshServices(), refreshTransfers(), refreshFiles()]);
  } catch (e) {
    say(e.message);
  }
}

function refreshSoon(delay) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshAll, delay === undefined ? 250 : delay);
}

// The event stream is read with fetch rather than EventSource, so the token travels in a header, never in a URL
// (URLs end up in request logs).
async function listen() {
  while (true) {
    try {
      const headers = { "Accept": "text/event-stream" };
      if (token()) headers["Authorization"] = "Bearer " + token();
      const response = await fetch(`${api}/events`, { headers });
      if (!response.ok) throw new Error(`events: HTTP ${response.status}`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter(line => line.startsWith("data: ")).map(line => line.slice(6)).join("\n");
          if (data) {
            showEvent(JSON.parse(data));
            refreshSoon();
          }
        }
      }
    } catch (e) {
      document.getElementById("engine-state").textContent = "reconnecting…";
    }
    await new Promise(resolve => setTimeout(resolve, 2000));
  }
}

document.getElementById("token-form").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem("onitu-token", document.getElementById("token").value.trim());
  say("token saved for this tab", true);
});
document.getElementById("reload-rules").addEventListener("click", async () => {
  try {
    const result = await call("PUT", "rules/reload");
    say(`rules reloaded (${result.added} transfers added)`, true);
  } catch (e) {
    say(e.message);
  }
  refreshSoon(0);
});
document.getElementById("files-previous").addEventListener("click", () => { filesOffset = Math.max(0, filesOffset - pageSize); refreshFiles(); });
document.getElementById("files-next").addEventListener("click", () => { filesOffset += pageSize; refreshFiles(); });

(async function start() {
  try {
    const { events } = await call("GET", "events/recent");
    events.forEach(showEvent);
  } catch (e) {
    say(e.message);
  }
  await refreshAll();
  listen();
  setInterval(refreshAll, 2000);
})();
