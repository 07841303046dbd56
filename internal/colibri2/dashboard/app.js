// colibri-bus dashboard: polls /colibri/stats and /debug?full=true every
// second and computes message rates from the differences between two polls.
// The try-it panel drives the REST API and two browser WebSockets.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

let prev = null; // {t, stats, perSocket: Map(key -> {in, out})}

function text(id, v) { $(id).textContent = v; }

function fmtRate(v) {
  if (v === null || !isFinite(v)) return '–';
  return v < 10 ? v.toFixed(1) : Math.round(v).toString();
}

function fmtAge(s) {
  if (s === undefined || s === null) return '';
  if (s < 60) return Math.floor(s) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function sum(obj) {
  let n = 0;
  for (const k in obj || {}) n += obj[k];
  return n;
}

function cell(tr, v, cls) {
  const td = document.createElement('td');
  td.textContent = v === undefined || v === null ? '' : String(v);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function emptyRow(tbody, cols, msg) {
  const tr = document.createElement('tr');
  tr.className = 'empty';
  const td = cell(tr, msg);
  td.colSpan = cols;
  tbody.appendChild(tr);
}

async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

async function poll() {
  try {
    const [stats, debug] = await Promise.all([getJSON('/colibri/stats'), getJSON('/debug?full=true')]);
    render(stats, debug, performance.now());
  } catch (e) {
    const h = $('health');
    h.textContent = 'unreachable';
    h.className = 'badge bad';
    text('updated', String(e.message || e));
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function render(stats, debug, now) {
  const dt = prev ? (now - prev.t) / 1000 : 0;
  const rate = (cur, old) => (prev && dt > 0 ? Math.max(0, cur - old) / dt : null);

  text('version', 'v' + stats.version + ' · server-id ' + debug.server_id);
  const h = $('health');
  h.textContent = stats.healthy ? 'healthy' : 'unhealthy: ' + (stats.unhealthy_reason || '');
  h.className = 'badge ' + (stats.healthy ? 'ok' : 'bad');
  $('drain').className = 'badge warn' + (stats.drain ? '' : ' hidden');
  $('drain').textContent = stats.shutting_down ? 'shutting down' : 'draining';
  text('updated', 'updated ' + stats.current_timestamp + ' UTC');

  text('t-conferences', stats.conferences);
  text('t-endpoints', stats.endpoints);
  text('t-local', stats.local_endpoints);
  text('t-relayed', stats.octo_endpoints);
  text('t-relays', stats.total_relays);
  text('t-open', stats.connections_open);
  text('t-handshaking', stats.connections_handshaking);
  text('t-queued', stats.outbound_queued_bytes);
  const rin = stats.total_colibri_web_socket_messages_received;
  const rout = stats.total_colibri_web_socket_messages_sent;
  text('rate-in', fmtRate(rate(rin, prev && prev.stats.total_colibri_web_socket_messages_received)));
  text('rate-out', fmtRate(rate(rout, prev && prev.stats.total_colibri_web_socket_messages_sent)));
  text('rate-drop', fmtRate(rate(stats.dropped_messages, prev && prev.stats.dropped_messages)));

  renderCounters($('drops'), stats, 'dropped_', 'dropped_messages');
  renderCounters($('rejects'), stats, 'handshake_rejected_', 'handshake_rejected');
  const perSocket = renderConferences(debug, rate);
  prev = { t: now, stats, perSocket };
}

// renderCounters lists the non-zero keys of stats that start with prefix.
function renderCounters(table, stats, prefix, total) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  const keys = Object.keys(stats).filter((k) => k.startsWith(prefix) && k !== total && stats[k] > 0).sort();
  for (const k of keys) {
    const tr = document.createElement('tr');
    cell(tr, k.slice(prefix.length));
    cell(tr, stats[k]);
    tbody.appendChild(tr);
  }
  if (keys.length === 0) emptyRow(tbody, 2, 'none');
}

function renderConferences(debug, rate) {
  const tbody = $('conferences').tBodies[0];
  tbody.replaceChildren();
  const perSocket = new Map();
  const confs = Object.values(debug.conferences || {}).sort((a, b) => a.meeting_id.localeCompare(b.meeting_id));
  for (const c of confs) {
    const tr = document.createElement('tr');
    tr.className = 'conf';
    tr.dataset.conf = c.id;
    tr.dataset.meeting = c.meeting_id;
    cell(tr, c.meeting_id);
    cell(tr, c.id);
    cell(tr, 'conference');
    cell(tr, c.name || '');
    cell(tr, c.connected_endpoint_count + ' / ' + c.endpoint_count);
    cell(tr, fmtAge(c.age_seconds));
    cell(tr, c.relay_count ? c.relay_count + ' relays, ' + c.relayed_endpoint_count + ' relayed' : '');
    cell(tr, ''); cell(tr, ''); cell(tr, '');
    tbody.appendChild(tr);
    const sockets = [...Object.values(c.endpoints || {}), ...Object.values(c.relays || {})];
    for (const s of sockets) {
      const key = c.id + '/' + s.kind + '/' + s.id;
      const mt = s.message_transport || {};
      const cur = { in: sum(mt.received_counts), out: sum(mt.sent_counts) };
      perSocket.set(key, cur);
      const old = prev && prev.perSocket.get(key);
      const row = document.createElement('tr');
      row.dataset.socket = key;
      cell(row, ''); cell(row, '');
      cell(row, s.kind + (s.visitor ? ' (visitor)' : '') + (s.kind === 'relay' ? ' mesh ' + s.mesh_id : ''));
      cell(row, s.id);
      cell(row, s.connected ? 'yes' : 'no', s.connected ? 'connected' : 'disconnected');
      cell(row, s.connected ? fmtAge(s.connection_age_seconds) : '');
      cell(row, s.remote_address || (s.kind === 'relay' && s.relayed_endpoints.length ? 'relays ' + s.relayed_endpoints.join(', ') : ''));
      cell(row, fmtRate(old ? rate(cur.in, old.in) : null));
      cell(row, fmtRate(old ? rate(cur.out, old.out) : null));
      cell(row, mt.numOutgoingMessagesDropped || 0);
      tbody.appendChild(row);
    }
  }
  if (confs.length === 0) emptyRow(tbody, 10, 'no conferences');
  return perSocket;
}

// ---- try it ----

const demo = { meeting: null, sockets: {}, hello: {} };

function status(msg, bad) {
  const p = $('demo-status');
  p.textContent = msg;
  p.className = bad ? 'bad-text' : 'muted';
}

function log(id, line) {
  const li = document.createElement('li');
  li.textContent = line;
  const ol = $('demo-log-' + id);
  ol.appendChild(li);
  ol.scrollTop = ol.scrollHeight;
}

function setState(id, msg, cls) {
  const b = $('demo-state-' + id);
  b.textContent = msg;
  b.className = 'badge ' + (cls || '');
}

// masked hides the URL secret from the page.
function masked(url) { return url.replace(/pwd=[^&]*/, 'pwd=…'); }

function target(url) {
  const host = $('demo-host').value.trim();
  if (!host) return url;
  const u = new URL(url);
  u.host = host;
  return u.toString();
}

async function createDemo() {
  $('demo-create').disabled = true;
  closeDemoSockets();
  const meeting = 'dashboard-demo-' + Math.random().toString(36).slice(2, 8);
  const body = {
    'meeting-id': meeting, name: 'dashboard demo', create: true,
    endpoints: [{ id: 'alice', create: true }, { id: 'bob', create: true }],
  };
  try {
    const r = await fetch('/colibri/v2/conferences', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const j = await r.json();
    if (!r.ok) throw new Error('POST /colibri/v2/conferences: HTTP ' + r.status + ' ' + (j.error || ''));
    demo.meeting = meeting;
    status('created ' + meeting + ' (conference ' + j.id + '); connecting…');
    $('demo-expire').disabled = false;
    for (const ep of j.endpoints) {
      const urls = ep.transport.transport['web-sockets'] || [];
      if (urls.length === 0) throw new Error('endpoint ' + ep.id + ' has no web-sockets URL: are websockets enabled?');
      connect(ep.id, target(urls[0]));
    }
  } catch (e) {
    status(String(e.message || e), true);
  } finally {
    $('demo-create').disabled = false;
  }
}

function connect(id, url) {
  $('demo-log-' + id).replaceChildren();
  log(id, 'connecting to ' + masked(url));
  setState(id, 'connecting', 'warn');
  demo.hello[id] = false;
  const ws = new WebSocket(url);
  demo.sockets[id] = ws;
  ws.onopen = () => setState(id, 'open, waiting for ServerHello', 'warn');
  ws.onmessage = (e) => {
    log(id, '← ' + e.data);
    let m = null;
    try { m = JSON.parse(e.data); } catch (_) { /* shown as received */ }
    if (m && m.colibriClass === 'ServerHello' && !demo.hello[id]) {
      demo.hello[id] = true;
      setState(id, 'connected', 'ok');
      if (demo.hello.alice && demo.hello.bob) {
        $('demo-send').disabled = false;
        status('both endpoints connected to ' + demo.meeting);
      }
    }
  };
  ws.onerror = () => log(id, 'WebSocket error (see the browser console; is ' + new URL(url).host + ' reachable?)');
  ws.onclose = (e) => {
    if (demo.sockets[id] === ws) {
      setState(id, 'closed ' + e.code + (e.reason ? ' ' + e.reason : ''), 'bad');
      $('demo-send').disabled = true;
    }
    log(id, 'closed: code ' + e.code + (e.reason ? ' "' + e.reason + '"' : ''));
  };
}

function sendDemo() {
  const from = $('demo-from').value;
  const to = $('demo-to').value;
  const ws = demo.sockets[from];
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    status(from + ' is not connected', true);
    return;
  }
  const msg = JSON.stringify({ colibriClass: 'EndpointMessage', to, msgPayload: { text: $('demo-text').value } });
  ws.send(msg);
  log(from, '→ ' + msg);
}

function closeDemoSockets() {
  for (const id in demo.sockets) {
    const ws = demo.sockets[id];
    delete demo.sockets[id];
    ws.close(1000, 'dashboard');
  }
}

async function expireDemo() {
  if (!demo.meeting) return;
  try {
    const r = await fetch('/colibri/v2/conferences/' + encodeURIComponent(demo.meeting), {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"expire":true}',
    });
    if (!r.ok) throw new Error('PATCH: HTTP ' + r.status);
    status('expired ' + demo.meeting);
    demo.meeting = null;
    $('demo-expire').disabled = true;
  } catch (e) {
    status(String(e.message || e), true);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('demo-create').addEventListener('click', createDemo);
  $('demo-send').addEventListener('click', sendDemo);
  $('demo-expire').addEventListener('click', expireDemo);
  poll();
});
