// The discovery page: a host/port form that calls GET /api/discover/:host/:port, shows the instance and a
// clear success or error alert (also for non-2xx and non-JSON answers), and the cluster's topology from
// GET /api/cluster/:hint. Plain DOM, no build step; every server value goes in through textContent.

const $ = (id) => document.getElementById(id);

const TOPOLOGY_REFRESH_MS = [1500, 4000, 8000];
const REQUEST_TIMEOUT_MS = 60000;

let pollTimers = [];
let currentKey = null;

function formatKey(key) {
  return key.host.includes(':') ? `[${key.host}]:${key.port}` : `${key.host}:${key.port}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind}`, text });
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

async function api(path) {
  const headers = { Accept: 'application/json' };
  const token = $('token').value.trim();
  if (token !== '') headers.Authorization = `Bearer ${token}`;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(path, { headers, signal: ctrl.signal, cache: 'no-store' });
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (parseError) {
      body = { parseError: String(parseError) };
    }
    const envelope = body !== null && typeof body === 'object' && typeof body.Code === 'string' ? body : null;
    return { status: res.status, statusText: res.statusText, ok: res.ok && envelope !== null && envelope.Code === 'OK', envelope, text };
  } finally {
    clearTimeout(timer);
  }
}

function failureText(r) {
  if (r.envelope !== null && typeof r.envelope.Message === 'string' && r.envelope.Message !== '') return r.envelope.Message;
  const snippet = r.text.trim().slice(0, 300);
  return `unexpected answer${snippet === '' ? ' (empty body)' : `: ${snippet}`}`;
}

// ---------------------------------------------------------------------------------------------------------
// Alerts

function showAlert(kind, text) {
  const box = $('alert');
  box.className = `alert-${kind}`;
  box.textContent = text;
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------------------------
// Instance

function keyButton(key, label) {
  return el('button', {
    type: 'button',
    class: 'linkish mono',
    text: label ?? formatKey(key),
    title: `Discover ${formatKey(key)}`,
    onclick: () => {
      $('host').value = key.host;
      $('port').value = String(key.port);
      void discover();
    },
  });
}

function setField(name, ...content) {
  const dd = document.querySelector(`[data-field="${name}"]`);
  dd.replaceChildren(...content.map((c) => (typeof c === 'string' ? document.createTextNode(c) : c)));
}

function yesNo(v) {
  return v === null || v === undefined ? 'unknown' : v ? 'yes' : 'no';
}

function coords(c) {
  return c === null || c === undefined ? '—' : `${c.file}:${c.position}`;
}

function humanSeconds(s) {
  if (s === null || s === undefined) return 'unknown';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [];
  if (d > 0) parts.push(`${d}d`);
  if (h > 0) parts.push(`${h}h`);
  if (m > 0) parts.push(`${m}m`);
  parts.push(`${s % 60}s`);
  return parts.join(' ');
}

function renderInstance(inst) {
  setField('key', formatKey(inst.key));
  setField('role', badge(inst.role, 'role'));
  setField('version', `${inst.version} (${inst.flavor})${inst.version_comment ? ` — ${inst.version_comment}` : ''}`);
  setField('server', `${inst.server_id}${inst.server_uuid ? ` / ${inst.server_uuid}` : ''}`);
  setField('hostname', `${inst.hostname ?? '—'}${inst.report_host ? ` (report_host ${inst.report_host})` : ''}`);
  setField('read_only', yesNo(inst.read_only));
  setField('primary', inst.master_key ? keyButton(inst.master_key) : 'none (not a replica)');

  const r = inst.replication;
  if (r) {
    const gtidMode = r.using_gtid ? `GTID (${r.gtid_mode})` : 'file/position';
    setField(
      'replication',
      `IO thread ${r.io_state}, SQL thread ${r.sql_running ? 'Yes' : 'No'}; ${gtidMode}; read ${coords(r.read_position)}, executed ${coords(r.exec_position)}`,
    );
    setField('lag', r.seconds_behind_master === null ? 'unknown (not replicating)' : `${r.seconds_behind_master} s`);
    const errors = [];
    if (r.last_io_errno) errors.push(`IO ${r.last_io_errno}: ${r.last_io_error}`);
    if (r.last_sql_errno) errors.push(`SQL ${r.last_sql_errno}: ${r.last_sql_error}`);
    setField('errors', errors.length === 0 ? 'none' : errors.join('\n'));
  } else {
    setField('replication', 'not a replica');
    setField('lag', '—');
    setField('errors', '—');
  }

  const replicas = inst.replicas.map((x) =>
    el('span', {}, keyButton(x), document.createTextNode(x.server_id === null ? ' ' : ` (server_id ${x.server_id}) `)),
  );
  setField('replicas', ...(replicas.length === 0 ? ['none'] : replicas));
  setField('binlog', inst.log_bin ? `${coords(inst.binlog)} (${inst.binlog_format ?? '?'}), log_replica_updates ${yesNo(inst.log_replica_updates)}` : 'disabled');

  const g = inst.gtid;
  const gtidText =
    g.flavor === 'mariadb'
      ? `binlog_pos ${g.binlog_pos || '∅'}, current_pos ${g.current_pos || '∅'}, slave_pos ${g.slave_pos || '∅'}`
      : `mode ${g.mode ?? '?'}, executed ${g.executed || '∅'}, purged ${g.purged || '∅'}`;
  setField('gtid', el('span', { class: 'mono', text: gtidText + (inst.gtid_errant ? `; errant ${inst.gtid_errant}` : '') }));

  const s = inst.semi_sync;
  setField(
    'semi_sync',
    `source: enabled ${yesNo(s.source_enabled)}, active ${yesNo(s.source_active)}, clients ${s.source_clients ?? '?'}; ` +
      `replica: enabled ${yesNo(s.replica_enabled)}, active ${yesNo(s.replica_active)}`,
  );
  setField('problems', ...(inst.problems.length === 0 ? [badge('none', 'good')] : inst.problems.map((p) => badge(p, 'problem'))));
  setField('uptime', humanSeconds(inst.uptime_seconds));
  setField('seen', `first ${inst.first_seen_at}, last ${inst.last_seen_at}${inst.last_check_valid ? '' : ` (last check failed: ${inst.last_error})`}`);
  setField('notes', inst.notes.length === 0 ? '—' : inst.notes.join('\n'));
  $('instance').hidden = false;
}

// ---------------------------------------------------------------------------------------------------------
// Topology

function renderTopology(graph) {
  $('cluster-name').textContent = graph.cluster_name;
  const byKey = new Map(graph.nodes.map((n) => [formatKey(n.key), n]));
  const children = new Map();
  for (const e of graph.edges) {
    const s = formatKey(e.source);
    if (!children.has(s)) children.set(s, []);
    children.get(s).push(e.replica);
  }
  const drawn = new Set();
  const item = (key) => {
    const k = formatKey(key);
    const node = byKey.get(k);
    const inst = node?.instance ?? null;
    const classes = ['node'];
    if (currentKey !== null && k === formatKey(currentKey)) classes.push('current');
    if (!inst) classes.push('undiscovered');
    const line = el('span', { class: 'node-line' }, el('span', { class: 'node-key' }, keyButton(key)), document.createTextNode(' '));
    if (inst) {
      line.append(badge(inst.role, 'role'));
      line.append(document.createTextNode(` ${inst.version} · server_id ${inst.server_id}`));
      if (inst.replication) {
        const lag = inst.replication.seconds_behind_master;
        line.append(document.createTextNode(` · lag ${lag === null ? '?' : `${lag}s`} `));
      }
      for (const p of inst.problems) line.append(badge(p, 'problem'));
    } else {
      line.append(badge('not discovered', 'undiscovered'));
    }
    const li = el('li', { class: classes.join(' '), 'data-key': k }, line);
    if (drawn.has(k)) {
      li.append(document.createTextNode(' (cycle)'));
      return li;
    }
    drawn.add(k);
    const kids = children.get(k) ?? [];
    if (kids.length > 0) li.append(el('ul', {}, ...kids.map(item)));
    return li;
  };
  const tree = $('topology-tree');
  tree.replaceChildren(...graph.roots.map(item));
  for (const n of graph.nodes) {
    const k = formatKey(n.key);
    if (!drawn.has(k)) tree.append(item(n.key));
  }
  $('topology-status').textContent = `${graph.nodes.length} instance(s), ${graph.edges.length} replication link(s); updated ${new Date().toLocaleTimeString()}`;
  $('topology').hidden = false;
}

async function loadTopology() {
  if (currentKey === null) return;
  try {
    const r = await api(`/api/cluster/${encodeURIComponent(formatKey(currentKey))}`);
    if (r.ok) renderTopology(r.envelope.Details);
    else $('topology-status').textContent = `Topology unavailable (HTTP ${r.status}): ${failureText(r)}`;
  } catch (err) {
    $('topology-status').textContent = `Topology request failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function stopTopologyRefresh() {
  for (const t of pollTimers) clearTimeout(t);
  pollTimers = [];
}

/** After a failure the page shows only the alert: details of an earlier instance would be mistaken for this one. */
function clearResult() {
  stopTopologyRefresh();
  currentKey = null;
  $('instance').hidden = true;
  $('topology').hidden = true;
}

function scheduleTopology() {
  stopTopologyRefresh();
  pollTimers = TOPOLOGY_REFRESH_MS.map((ms) => setTimeout(() => void loadTopology(), ms));
  void loadTopology();
}

// ---------------------------------------------------------------------------------------------------------
// The form

async function discover() {
  const host = $('host').value.trim();
  const port = $('port').value.trim();
  if (host === '') {
    showAlert('error', 'Enter a host name or IP address.');
    return;
  }
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    showAlert('error', `Invalid port "${port}": enter a number from 1 to 65535.`);
    return;
  }
  const button = $('discover-button');
  button.disabled = true;
  showAlert('info', `Discovering ${host}:${port}…`);
  try {
    const r = await api(`/api/discover/${encodeURIComponent(host)}/${encodeURIComponent(port)}`);
    if (r.ok) {
      const inst = r.envelope.Details;
      currentKey = inst.key;
      showAlert('success', r.envelope.Message);
      renderInstance(inst);
      scheduleTopology();
    } else {
      clearResult();
      showAlert('error', `Discovery of ${host}:${port} failed (HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}): ${failureText(r)}`);
    }
  } catch (err) {
    clearResult();
    const why = err instanceof Error && err.name === 'AbortError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : String(err);
    showAlert('error', `Discovery of ${host}:${port} failed: ${why}`);
  } finally {
    button.disabled = false;
  }
}

$('discover-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void discover();
});
$('refresh-topology').addEventListener('click', () => void loadTopology());

const params = new URLSearchParams(window.location.search);
if (params.has('host')) $('host').value = params.get('host');
if (params.has('port')) $('port').value = params.get('port');
document.body.dataset.ready = 'true';
