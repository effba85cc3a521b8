// dashboard.js - the broker dashboard's logic (daemon/broker/README.md):
// authenticate (the browser's client certificate, else a bearer token typed
// into the page and kept in memory only), read the fleet from /v1/members,
// then follow /v1/events and redraw the fleet table and each member's
// offset and frequency charts as state arrives.
//
// /v1/events is read with fetch() and a stream reader rather than
// EventSource: EventSource cannot send an Authorization header, and a
// token must not go into a URL (URLs end up in logs and histories).
'use strict';

(function () {
  const HISTORY_POINTS = 300;       // per member and chart
  const RETRY_MIN_MS = 1000;        // reconnect backoff, doubling
  const RETRY_MAX_MS = 30000;
  const MAX_EVENT_LINES = 100;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  let token = null;                 // the bearer token, or null: the client certificate
  let stateIntervalS = 5;           // the broker's [broker] state_interval
  let clockSkewS = 0;               // the broker's clock minus ours, seconds
  let streamAbort = null;
  let retryMs = RETRY_MIN_MS;
  const members = new Map();        // name -> member record (see record())

  const $ = (id) => document.getElementById(id);

  function brokerNowS() { return Date.now() / 1000 + clockSkewS; }

  function setConnection(state, text) {
    const el = $('connection');
    el.dataset.state = state;
    el.textContent = text;
  }

  // --- the API ------------------------------------------------------------

  class Unauthorized extends Error {}

  function headers() {
    const h = { 'Accept': 'application/json' };
    if (token !== null) h['Authorization'] = 'Bearer ' + token;
    return h;
  }

  async function api(path, signal) {
    const r = await fetch(path, { headers: headers(), cache: 'no-store', signal: signal });
    if (r.status === 401) throw new Unauthorized((await r.json()).error || 'unauthorized');
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  // --- formatting ---------------------------------------------------------

  // Seconds with a unit that keeps three decimals meaningful: "+1.500 µs".
  function formatSeconds(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '–';
    const a = Math.abs(s);
    const sign = s < 0 ? '−' : '+';
    if (a < 1e-6) return sign + (a * 1e9).toFixed(1) + ' ns';
    if (a < 1e-3) return sign + (a * 1e6).toFixed(3) + ' µs';
    if (a < 1) return sign + (a * 1e3).toFixed(3) + ' ms';
    return sign + a.toFixed(3) + ' s';
  }

  function formatPpm(p) {
    if (typeof p !== 'number' || !isFinite(p)) return '–';
    return (p < 0 ? '−' : '+') + Math.abs(p).toFixed(3) + ' ppm';
  }

  function formatAge(seconds) {
    if (seconds < 1) return 'just now';
    if (seconds < 120) return Math.round(seconds) + ' s ago';
    if (seconds < 7200) return Math.round(seconds / 60) + ' min ago';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h ago';
    return Math.round(seconds / 86400) + ' d ago';
  }

  // --- the fleet ----------------------------------------------------------

  function record(name) {
    let m = members.get(name);
    if (!m) {
      m = { name: name, host: '', version: '', connected: false, lastSeenS: null,
            stateTimeS: null, state: null, offsets: [], frequencies: [], row: null, card: null };
      members.set(name, m);
    }
    return m;
  }

  function fromMemberJson(j) {
    const m = record(j.name);
    m.host = j.host;
    m.version = j.version;
    m.connected = j.connected;
    m.lastSeenS = j.last_seen;
    m.stateTimeS = j.state_time;
    // A state not yet in the history (the first load, or one missed while
    // reconnecting) is added; the history itself lives as long as the page.
    const last = m.offsets.length ? m.offsets[m.offsets.length - 1][0] : null;
    if (j.state && typeof j.state === 'object' && j.state_time !== null &&
        (last === null || j.state_time > last))
      applyState(m, j.state, j.state_time);
    else if (j.state && typeof j.state === 'object') m.state = j.state;
    return m;
  }

  function push(series, t, v) {
    if (typeof v !== 'number' || !isFinite(v)) return;
    series.push([t, v]);
    if (series.length > HISTORY_POINTS) series.shift();
  }

  function applyState(m, data, timeS) {
    m.state = data;
    m.stateTimeS = timeS;
    const tracking = data.tracking || {};
    push(m.offsets, timeS, tracking.system_offset_s);
    push(m.frequencies, timeS, tracking.frequency_ppm);
  }

  function selectedSource(state) {
    const list = state.sources && Array.isArray(state.sources.sources) ? state.sources.sources : [];
    const selected = list.find((s) => s && s.state === 'selected');
    if (selected) return selected.name;
    const t = state.tracking || {};
    if (t.reference_name && t.reference_name !== '-') return t.reference_name;
    return t.reference_id && t.reference_id !== '-' ? t.reference_id : '–';
  }

  // ok, degraded (the discipline reports faults), unsynchronised, stale (no
  // state for three intervals), offline (not subscribed).
  function health(m) {
    if (!m.connected) return ['offline', 'offline'];
    if (m.stateTimeS === null || brokerNowS() - m.stateTimeS > 3 * stateIntervalS + 1)
      return ['stale', 'stale: no recent state'];
    const status = (m.state && m.state.status) || {};
    if (status.synchronized === false) return ['unsynchronised', 'unsynchronised'];
    const faults = status.discipline && Array.isArray(status.discipline.faults)
      ? status.discipline.faults : [];
    if (faults.length > 0) return ['degraded', 'degraded: ' + faults.join(', ')];
    return ['ok', 'ok'];
  }

  const COLUMNS = ['name', 'host', 'version', 'seen', 'sync', 'stratum', 'offset', 'frequency',
                   'source', 'health'];

  function cell(row, column) { return row.querySelector('td.' + column); }

  function setCell(row, column, text, value) {
    const td = cell(row, column);
    if (td.textContent !== text) td.textContent = text;
    if (value !== undefined) td.dataset.value = String(value);
  }

  function renderRow(m) {
    if (!m.row) {
      m.row = document.createElement('tr');
      m.row.dataset.member = m.name;
      for (const c of COLUMNS) {
        const td = document.createElement('td');
        td.className = c;
        m.row.appendChild(td);
      }
      const body = $('fleet-body');
      const names = [...members.keys()].sort();
      const next = names.slice(names.indexOf(m.name) + 1).map((n) => members.get(n).row)
        .find((r) => r && r.parentNode === body);
      body.insertBefore(m.row, next || null);
    }
    const s = m.state || {};
    const status = s.status || {};
    const tracking = s.tracking || {};
    m.row.dataset.connected = String(m.connected);
    setCell(m.row, 'name', m.name);
    setCell(m.row, 'host', m.host || '–');
    setCell(m.row, 'version', m.version || '–');
    const stateAge = m.stateTimeS === null ? '' : ', state ' + formatAge(brokerNowS() - m.stateTimeS);
    setCell(m.row, 'seen', m.connected ? 'connected' + stateAge
      : (m.lastSeenS ? 'last seen ' + formatAge(brokerNowS() - m.lastSeenS) : 'never'));
    let sync = '–';
    if (typeof status.synchronized === 'boolean') {
      sync = status.synchronized ? 'synchronised' : 'unsynchronised';
      if (status.leap && status.leap !== 'none') sync += ', leap ' + status.leap;
    }
    setCell(m.row, 'sync', sync);
    const stratum = typeof status.stratum === 'number' ? status.stratum : tracking.stratum;
    setCell(m.row, 'stratum', typeof stratum === 'number' ? String(stratum) : '–', stratum);
    setCell(m.row, 'offset', formatSeconds(tracking.system_offset_s), tracking.system_offset_s);
    setCell(m.row, 'frequency', formatPpm(tracking.frequency_ppm), tracking.frequency_ppm);
    setCell(m.row, 'source', m.state ? selectedSource(s) : '–');
    const [level, text] = health(m);
    setCell(m.row, 'health', text);
    cell(m.row, 'health').dataset.health = level;
  }

  // --- charts: SVG drawn here, one card per member ------------------------

  function svg(tag, attributes, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
    if (parent) parent.appendChild(el);
    return el;
  }

  function makeChart(card, title, kind) {
    const h = document.createElement('div');
    h.className = 'chart-title';
    h.textContent = title;
    card.appendChild(h);
    const chart = svg('svg', { 'class': 'chart ' + kind, 'viewBox': '0 0 400 120',
                               'preserveAspectRatio': 'none', 'role': 'img',
                               'aria-label': title }, card);
    svg('rect', { 'class': 'frame', 'x': 84, 'y': 5, 'width': 311, 'height': 100 }, chart);
    svg('line', { 'class': 'zero', 'x1': 84, 'x2': 395, 'y1': 55, 'y2': 55 }, chart);
    svg('polyline', { 'class': 'trace', 'points': '' }, chart);
    svg('text', { 'class': 'max', 'x': 80, 'y': 12, 'text-anchor': 'end' }, chart);
    svg('text', { 'class': 'min', 'x': 80, 'y': 105, 'text-anchor': 'end' }, chart);
    svg('text', { 'class': 'span', 'x': 395, 'y': 118, 'text-anchor': 'end' }, chart);
    return chart;
  }

  // Draws @series ([time s, value]) scaled to fit, with zero shown when in range.
  function drawChart(chart, series, format) {
    const trace = chart.querySelector('.trace');
    chart.dataset.points = String(series.length);
    chart.dataset.last = series.length ? String(series[series.length - 1][1]) : '';
    if (series.length === 0) {
      trace.setAttribute('points', '');
      return;
    }
    let lo = Math.min(...series.map((p) => p[1]));
    let hi = Math.max(...series.map((p) => p[1]));
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
      const pad = Math.abs(hi) * 0.1 || 1e-9;
      lo -= pad;
      hi += pad;
    }
    const t0 = series[0][0];
    const t1 = Math.max(series[series.length - 1][0], t0 + 1);
    const x = (t) => 84 + (t - t0) / (t1 - t0) * 311;
    const y = (v) => 105 - (v - lo) / (hi - lo) * 100;
    trace.setAttribute('points', series.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1))
      .join(' '));
    const zero = chart.querySelector('.zero');
    const zeroVisible = lo <= 0 && hi >= 0;
    zero.setAttribute('visibility', zeroVisible ? 'visible' : 'hidden');
    if (zeroVisible) {
      zero.setAttribute('y1', y(0).toFixed(1));
      zero.setAttribute('y2', y(0).toFixed(1));
    }
    chart.querySelector('.max').textContent = format(hi);
    chart.querySelector('.min').textContent = format(lo);
    chart.querySelector('.span').textContent = 'last ' + Math.round(t1 - t0) + ' s';
  }

  function renderCharts(m) {
    if (!m.card) {
      m.card = document.createElement('div');
      m.card.className = 'chart-card';
      m.card.dataset.member = m.name;
      const h = document.createElement('h3');
      h.textContent = m.name;
      m.card.appendChild(h);
      m.offsetChart = makeChart(m.card, 'offset', 'offset');
      m.frequencyChart = makeChart(m.card, 'frequency', 'frequency');
      $('charts').appendChild(m.card);
    }
    drawChart(m.offsetChart, m.offsets, formatSeconds);
    drawChart(m.frequencyChart, m.frequencies, formatPpm);
  }

  function render(m) {
    renderRow(m);
    renderCharts(m);
    $('empty').hidden = members.size > 0;
  }

  function logEvent(text) {
    const li = document.createElement('li');
    li.textContent = new Date().toISOString().replace('T', ' ').slice(0, 19) + '  ' + text;
    const list = $('events');
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_EVENT_LINES) list.removeChild(list.lastChild);
  }

  // --- loading and following -------------------------------------------------

  async function loadFleet(signal) {
    const fleet = await api('/v1/members', signal);
    stateIntervalS = fleet.state_interval || stateIntervalS;
    if (typeof fleet.now === 'number') clockSkewS = fleet.now - Date.now() / 1000;
    const details = await Promise.all(fleet.members.map(
      (j) => api('/v1/members/' + encodeURIComponent(j.name), signal)));
    for (const j of details) fromMemberJson(j);
    for (const m of members.values()) render(m);
    $('empty').hidden = members.size > 0;
  }

  function onFleetEvent(type, e) {
    if (typeof e.member !== 'string') return;
    const m = record(e.member);
    if (type === 'member_connected') {
      m.connected = true;
      m.host = e.host;
      m.version = e.version;
      m.lastSeenS = brokerNowS();
      logEvent(e.member + ' connected (' + e.host + ', ' + e.version + ')');
    } else if (type === 'member_disconnected') {
      m.connected = false;
      m.lastSeenS = brokerNowS();
      logEvent(e.member + ' disconnected: ' + e.reason);
    } else if (type === 'state') {
      m.connected = true;
      m.lastSeenS = brokerNowS();
      applyState(m, e.data || {}, brokerNowS());
    } else if (type === 'event') {
      logEvent(e.member + ' ' + e.kind + ': ' + e.text);
    } else {
      return;
    }
    render(m);
  }

  // Splits the text/event-stream into events (the subset the broker sends:
  // "event:" and one "data:" line, comments ignored).
  async function followEvents(signal) {
    const r = await fetch('/v1/events', { headers: headers(), cache: 'no-store', signal: signal });
    if (r.status === 401) throw new Unauthorized('unauthorized');
    if (!r.ok || !r.body) throw new Error('/v1/events: HTTP ' + r.status);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    setConnection('live', 'live');
    retryMs = RETRY_MIN_MS;
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (data) {
          try {
            onFleetEvent(type, JSON.parse(data));
          } catch (err) {
            logEvent('unreadable event: ' + err.message);
          }
        }
      }
    }
  }

  async function run() {
    streamAbort = new AbortController();
    const signal = streamAbort.signal;
    for (;;) {
      try {
        await loadFleet(signal);
        await followEvents(signal);
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof Unauthorized) {
          showLogin('The broker refused the credentials: ' + err.message);
          return;
        }
        setConnection('retrying', 'reconnecting in ' + Math.round(retryMs / 1000) + ' s (' +
                      err.message + ')');
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  // --- authentication -----------------------------------------------------

  function showLogin(message) {
    if (streamAbort) streamAbort.abort();
    token = null;
    $('fleet').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    setConnection('idle', 'not connected');
    $('token').focus();
  }

  async function start() {
    const who = await api('/v1/whoami');
    $('whoami').textContent = who.name + ' (' + who.role + ')';
    $('login').hidden = true;
    $('fleet').hidden = false;
    run();
  }

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    try {
      await start();
    } catch (err) {
      showLogin(err instanceof Unauthorized ? 'Token refused: ' + err.message : err.message);
    }
  });

  // Ages and health change with time alone.
  setInterval(() => { for (const m of members.values()) if (m.row) renderRow(m); }, 1000);

  // A client certificate the browser presents needs no token.
  start().catch(() => showLogin(''));
})();
