// The live progress page: REST snapshots for the list, one WebSocket per unfinished run.
// Every value from the server is written with textContent, never parsed as HTML.
"use strict";

const REFRESH_MS = 2000;
const runs = new Map(); // run_id -> {snapshot, state, row, socket, retry}
let token = null;

function readToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    sessionStorage.setItem("batchery-token", hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("batchery-token");
}

function setStatus(state, text) {
  const el = document.getElementById("status");
  el.dataset.state = state;
  el.textContent = text;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
  });
  if (response.status === 401) {
    sessionStorage.removeItem("batchery-token");
    token = null;
    showLogin();
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error("HTTP " + response.status);
  return response.json();
}

// The same fold as batchery.server.wire.RunState.apply.
function apply(state, ev) {
  if (ev.seq <= state.seq) return state;
  const next = { ...state, seq: ev.seq };
  switch (ev.type) {
    case "run_started":
      return { ...next, status: "running", provider: ev.provider, model: ev.model, mode: ev.mode, total: ev.total };
    case "mode_chosen":
      return { ...next, mode: ev.mode, cached: ev.cached ?? 0 };
    case "batch_submitted":
      return { ...next, batches: next.batches + 1 };
    case "progress":
      return { ...next, completed: ev.completed, failed: ev.failed, total: ev.total, phase: ev.phase, eta_s: ev.eta_s ?? null };
    case "item_retried":
      return { ...next, retries: next.retries + 1 };
    case "fallback_started":
      return { ...next, fallbacks: next.fallbacks + 1 };
    case "over_sla":
      return { ...next, over_sla: next.over_sla + 1 };
    case "run_finished":
      return {
        ...next, status: ev.status, total: ev.total, completed: ev.succeeded, failed: ev.failed,
        phase: "done", eta_s: null, duration_s: ev.duration_s, cached: ev.cached ?? 0,
        cost_usd: ev.cost_usd ?? null, savings_usd: ev.savings_usd ?? null,
      };
    case "node_started":
      return { ...next, status: "running", node: ev.node, total: ev.items };
    case "job_event":
      return foldJobEvent(next, ev.event);
    case "node_finished":
      return {
        ...next, status: "completed", node: ev.node, total: ev.items, completed: ev.produced,
        failed: ev.failed_items.length, phase: "done", eta_s: null,
        retries: next.retries + (ev.retried ?? 0), cost_usd: ev.cost_usd, savings_usd: ev.savings_usd,
      };
    default:
      return next;
  }
}

// A node run's state with one of its jobs' events, as wire._fold_job_event.
function foldJobEvent(state, ev) {
  const jobs = state.jobs ?? [];
  switch (ev.type) {
    case "run_started":
      return jobs.includes(ev.run_id) ? state : { ...state, jobs: [...jobs, ev.run_id] };
    case "batch_submitted":
      return { ...state, batches: state.batches + 1 };
    case "fallback_started":
      return { ...state, fallbacks: state.fallbacks + 1 };
    case "over_sla":
      return { ...state, over_sla: state.over_sla + 1 };
    default:
      return state;
  }
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

function usd(value) {
  return value === null || value === undefined ? "—" : "$" + value.toFixed(value < 1 ? 4 : 2);
}

function cell(row, cls) {
  const td = document.createElement("td");
  td.className = cls;
  row.appendChild(td);
  return td;
}

function makeRow(runId) {
  const row = document.createElement("tr");
  row.dataset.runId = runId;
  for (const cls of ["run", "provider", "status", "phase"]) cell(row, cls);
  const bar = document.createElement("div");
  bar.className = "bar";
  for (const cls of ["fill", "fail", "label"]) {
    const part = document.createElement("span");
    part.className = cls;
    bar.appendChild(part);
  }
  cell(row, "progress").appendChild(bar);
  for (const cls of ["eta", "cost", "savings"]) cell(row, cls);
  return row;
}

function render(entry) {
  const { row, state, snapshot } = entry;
  const total = state.total || 0;
  const done = state.completed + state.failed;
  const percent = total ? Math.floor((100 * done) / total) : state.phase === "done" ? 100 : 0;
  row.dataset.status = state.status;
  row.dataset.percent = String(percent);
  row.dataset.seq = String(state.seq);
  const text = (cls, value) => { row.querySelector("." + cls).textContent = value; };
  text("run", state.run_id);
  text("provider", [state.provider || snapshot.provider, state.model || snapshot.model || ""].join(" ").trim());
  text("status", state.status + (state.mode ? " · " + state.mode : ""));
  text("phase", state.phase || "—");
  text("eta", state.phase === "done" ? duration(state.duration_s) : duration(state.eta_s));
  text("cost", usd(state.cost_usd ?? snapshot.counts.cost_usd));
  text("savings", usd(state.savings_usd ?? snapshot.counts.savings_usd));
  row.querySelector(".fill").style.width = (total ? (100 * state.completed) / total : percent) + "%";
  const fail = row.querySelector(".fail");
  fail.style.left = (total ? (100 * state.completed) / total : 0) + "%";
  fail.style.width = (total ? (100 * state.failed) / total : 0) + "%";
  text("label", done + " / " + total + (state.failed ? " (" + state.failed + " failed)" : "") + " · " + percent + "%");
}

async function follow(entry) {
  if (entry.socket || entry.state.phase === "done") return;
  entry.socket = "opening";
  let ticket;
  try {
    ticket = await api("/api/ws-tickets", { method: "POST", body: JSON.stringify({ run_id: entry.state.run_id }) });
  } catch (error) {
    entry.socket = null;
    return;
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const url = scheme + location.host + "/api/runs/" + encodeURIComponent(entry.state.run_id) + "/events?after_seq=" + entry.state.seq;
  const socket = new WebSocket(url, ["batchery.v1", "ticket." + ticket.ticket]);
  entry.socket = socket;
  socket.onopen = () => { entry.retry = 0; entry.row.dataset.live = "ws"; setStatus("live", "live"); };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type !== "events") return;
    for (const ev of frame.events) entry.state = apply(entry.state, ev);
    render(entry);
  };
  socket.onclose = (close) => {
    entry.socket = null;
    if (close.code === 1000 || entry.state.phase === "done") {
      refresh();
      return;
    }
    entry.retry = Math.min((entry.retry || 0) + 1, 6);
    setTimeout(() => follow(entry), 250 * 2 ** entry.retry);
  };
}

async function refresh() {
  if (!token) return;
  let list;
  try {
    list = await api("/api/runs");
  } catch (error) {
    if (token) setStatus("error", "cannot reach the server");
    return;
  }
  const body = document.querySelector("#runs tbody");
  document.getElementById("runs").hidden = list.runs.length === 0;
  document.getElementById("empty").hidden = list.runs.length !== 0;
  for (const snapshot of list.runs) {
    let entry = runs.get(snapshot.run_id);
    if (!entry) {
      entry = { snapshot, state: snapshot.state, row: makeRow(snapshot.run_id), socket: null, retry: 0 };
      runs.set(snapshot.run_id, entry);
    }
    body.appendChild(entry.row);
    entry.snapshot = snapshot;
    if (snapshot.state.seq >= entry.state.seq) entry.state = snapshot.state;
    render(entry);
    follow(entry);
  }
  if (![...runs.values()].some((entry) => entry.socket)) setStatus("idle", "up to date");
}

function showLogin() {
  const form = document.getElementById("login");
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    token = document.getElementById("token").value.trim();
    sessionStorage.setItem("batchery-token", token);
    form.hidden = true;
    refresh();
  };
}

token = readToken();
if (!token) showLogin();
refresh();
setInterval(refresh, REFRESH_MS);
