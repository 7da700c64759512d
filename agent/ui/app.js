// The live cluster page: members, an event feed, user event and query
// forms, and the RTT map, kept current from the agent's event stream.

import { apiURL, getJSON, sendJSON, postLines } from "./api.js";
import { render as renderMap } from "./rttmap.js";

const $ = (id) => document.getElementById(id);
const FEED_MAX = 200;
const REFRESH_MS = 10000;
const MAP_MS = 5000;

const state = {
  self: "",
  members: new Map(), // name -> member
  coords: [],
  queryRun: 0, // the query whose stream the page shows
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function tagText(tags) {
  return Object.keys(tags || {}).sort().map((k) => `${k}=${tags[k]}`).join(",");
}

// --- members -------------------------------------------------------------

function setMembers(list) {
  state.members = new Map(list.map((m) => [m.name, m]));
  renderMembers();
}

function updateMembers(list) {
  for (const m of list) state.members.set(m.name, m);
  renderMembers();
}

function memberMatches(m, filter) {
  if (!filter) return true;
  const hay = `${m.name} ${m.addr} ${m.status} ${tagText(m.tags)}`.toLowerCase();
  return filter.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

function renderMembers() {
  const filter = $("member-filter").value.trim();
  const rows = [...state.members.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((m) => memberMatches(m, filter))
    .map((m) =>
      el("tr", { dataset: { name: m.name, status: m.status } },
        el("td", {}, m.name + (m.name === state.self ? " (this agent)" : "")),
        el("td", {}, m.addr),
        el("td", { class: `status status-${m.status}` }, m.status),
        el("td", { class: "tags" }, tagText(m.tags)),
        el("td", {}, `${m.protocol.version} [${m.protocol.min}, ${m.protocol.max}]`)));
  $("members").tBodies[0].replaceChildren(...rows);
  const counts = {};
  for (const m of state.members.values()) counts[m.status] = (counts[m.status] || 0) + 1;
  $("counts").textContent = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
  drawMap();
}

async function refreshMembers() {
  try {
    const data = await getJSON("/v1/members");
    setMembers(data.members);
  } catch (err) {
    feed("error", `members: ${err.message}`);
  }
}

// --- feed ----------------------------------------------------------------

function feed(kind, text) {
  const li = el("li", { class: kind, dataset: { kind } },
    el("time", {}, new Date().toLocaleTimeString()), text);
  const list = $("feed");
  list.prepend(li);
  while (list.children.length > FEED_MAX) list.lastChild.remove();
}

function describe(ev) {
  if (ev.members) return `${ev.type}: ${ev.members.map((m) => `${m.name} ${m.addr}`).join(", ")}`;
  const payload = ev.payload ? ` payload=${JSON.stringify(ev.payload)}` : "";
  return `${ev.type} ${ev.name}${payload} ltime=${ev.ltime ?? 0}`;
}

// --- the event stream ----------------------------------------------------

function connectEvents() {
  const src = new EventSource(apiURL("/v1/stream/events"));
  src.onopen = () => {
    setBadge("stream-state", "live", "ok");
    refreshMembers();
  };
  src.onerror = () => setBadge("stream-state", "reconnecting", "warn");
  src.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    feed(ev.type, describe(ev));
    if (ev.members) updateMembers(ev.members);
  };
  src.addEventListener("dropped", (msg) => {
    const { dropped } = JSON.parse(msg.data);
    feed("dropped", `${dropped} event(s) dropped: this page fell behind; members reloaded`);
    refreshMembers();
  });
}

function setBadge(id, text, kind) {
  const b = $(id);
  b.textContent = text;
  b.className = `badge ${kind}`;
}

async function refreshHealth() {
  try {
    const resp = await fetch(apiURL("/v1/health"), { cache: "no-store" });
    const h = await resp.json();
    setBadge("health", resp.ok ? "healthy" : h.error || h.status, resp.ok ? "ok" : "bad");
  } catch (err) {
    setBadge("health", "unreachable", "bad");
  }
}

// --- the map -------------------------------------------------------------

function drawMap() {
  renderMap($("rtt-map"), state.coords, state.self,
    (name) => state.members.get(name)?.status,
    (line) => ($("rtt-info").textContent = line || "\u00a0"));
}

async function refreshCoords() {
  try {
    const data = await getJSON("/v1/coordinates");
    state.self = data.self;
    state.coords = data.coordinates;
    drawMap();
  } catch (err) {
    // Coordinates may be disabled; the map stays empty.
  }
}

// --- forms ---------------------------------------------------------------

function showResult(id, text, isError) {
  const r = $(id);
  r.textContent = text;
  r.className = isError ? "result error" : "result";
}

async function sendEvent(e) {
  e.preventDefault();
  const body = {
    name: $("event-name").value,
    payload: $("event-payload").value,
    coalesce: $("event-coalesce").checked,
  };
  try {
    await sendJSON("POST", "/v1/event", body);
    showResult("event-result", `sent ${body.name}`, false);
  } catch (err) {
    showResult("event-result", err.message, true);
  }
}

async function runQuery(e) {
  e.preventDefault();
  const nodes = $("query-nodes").value.split(",").map((s) => s.trim()).filter(Boolean);
  const body = {
    name: $("query-name").value,
    payload: $("query-payload").value,
    ack: $("query-ack").checked,
  };
  if (nodes.length) body.nodes = nodes;
  if ($("query-timeout").value.trim()) body.timeout = $("query-timeout").value.trim();
  const list = $("query-responses");
  list.replaceChildren();
  showResult("query-result", "running…", false);
  // A query run again before the last one ended replaces it: the older
  // stream goes on to its end, but what it still brings is not shown.
  const run = ++state.queryRun;
  try {
    await postLines("/v1/query", body, (rec) => {
      if (run !== state.queryRun) return;
      if (rec.type === "done") {
        showResult("query-result", `done: ${rec.acks} ack(s), ${rec.responses} response(s)`, false);
        return;
      }
      const text = rec.type === "ack" ? `ack from ${rec.from}` : `${rec.from}: ${rec.payload ?? ""}`;
      list.append(el("li", { dataset: { kind: rec.type } }, text));
    });
  } catch (err) {
    if (run === state.queryRun) showResult("query-result", err.message, true);
  }
}

// --- start ---------------------------------------------------------------

async function start() {
  $("member-filter").addEventListener("input", renderMembers);
  $("event-form").addEventListener("submit", sendEvent);
  $("query-form").addEventListener("submit", runQuery);
  try {
    const info = await getJSON("/v1/info");
    state.self = info.agent.name;
    $("agent-name").textContent = state.self;
    document.title = `Serf: ${state.self}`;
  } catch (err) {
    feed("error", `info: ${err.message}`);
  }
  await refreshMembers();
  connectEvents();
  refreshHealth();
  refreshCoords();
  setInterval(refreshMembers, REFRESH_MS);
  setInterval(refreshHealth, REFRESH_MS);
  setInterval(refreshCoords, MAP_MS);
}

start();
