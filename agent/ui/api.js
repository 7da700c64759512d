// Calls to this agent's HTTP API. Every error reply is {"error": "..."};
// callers get it as an Error with that message.

// apiURL makes path absolute on this page's origin. A page opened with the
// user name and token in its address has a base URL with credentials,
// which fetch refuses; the origin never has them, and the browser still
// sends the credentials it was given for it.
export function apiURL(path) {
  return new URL(path, location.origin).href;
}

export async function getJSON(path) {
  return call(path, { method: "GET" });
}

export async function sendJSON(method, path, body) {
  return call(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function call(path, init) {
  const resp = await fetch(apiURL(path), { ...init, cache: "no-store" });
  const text = await resp.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new Error(`${resp.status}: ${text.slice(0, 200)}`);
  }
  if (!resp.ok) {
    const err = new Error(data.error || `HTTP ${resp.status}`);
    err.status = resp.status;
    err.body = data;
    throw err;
  }
  return data;
}

// postLines POSTs body and calls onRecord with each JSON line of the
// streamed reply as it arrives (the query endpoint streams acks and
// responses this way).
export async function postLines(path, body, onRecord) {
  const resp = await fetch(apiURL(path), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  if (!resp.ok) {
    let msg = `HTTP ${resp.status}`;
    try {
      msg = (await resp.json()).error || msg;
    } catch {}
    throw new Error(msg);
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onRecord(JSON.parse(line));
    }
  }
  if (buf.trim()) onRecord(JSON.parse(buf));
}
