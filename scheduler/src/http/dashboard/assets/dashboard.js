// The Shotfarm dashboard: the cluster, nodes and jobs of the farm, live. Everything it
// shows comes from the replica's JSON API (`/api/…`), kept current by server-sent events;
// every value is put into the page as text, never as markup.
'use strict';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
let events = null;

// An element: h('td', { class: 'num' }, 'text', child, …).
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const table = (headings, rows) => h('table', {}, h('thead', {}, h('tr', {}, headings.map((heading) => h('th', {}, heading)))), h('tbody', {}, rows));
const state = (word) => h('span', { class: `state state-${word}` }, word);
const percent = (share) => `${Math.round(share * 100)}%`;
const bytes = (count) => (count >= 2 ** 30 ? `${(count / 2 ** 30).toFixed(1)} GiB` : `${Math.round(count / 2 ** 20)} MiB`);
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const number = (value, digits) => (typeof value === 'number' ? value.toFixed(digits) : '');

function progress(done, total) {
  const bar = h('span');
  bar.style.width = total ? `${(100 * done) / total}%` : '0';
  return h('span', {}, h('span', { class: 'bar' }, bar), `${done}/${total}`);
}

function showBanner(text) {
  banner.textContent = text;
  banner.hidden = !text;
}

// A request to the API; a refusal of the credentials shows the sign-in form.
async function api(method, path, body) {
  const options = { method, headers: {} };
  if (method !== 'GET') options.headers['x-shotfarm-dashboard'] = '1';
  if (body !== undefined) {
    options.headers['content-type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  if (response.status === 401) {
    signIn(text.trim());
    throw new Error(text.trim());
  }
  let value = null;
  try { value = JSON.parse(text); } catch { value = null; }
  if (!response.ok) throw new Error((value && value.error) || text.trim() || response.statusText);
  return value;
}

function signIn(why) {
  if (events) events.close();
  live.classList.remove('on');
  main.replaceChildren(document.getElementById('sign-in-form').content.cloneNode(true));
  document.getElementById('sign-out').hidden = true;
  if (why) document.getElementById('sign-in-error').textContent = why;
  document.getElementById('sign-in').addEventListener('submit', async (event) => {
    event.preventDefault();
    // A new attempt: what the last one (or the first look) was told no longer applies.
    document.getElementById('sign-in-error').textContent = '';
    const token = document.getElementById('token').value;
    const response = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json', 'x-shotfarm-dashboard': '1' }, body: JSON.stringify({ token }) });
    if (response.ok) route();
    else document.getElementById('sign-in-error').textContent = (await response.text()).trim();
  });
}

async function nodeAction(node, action) {
  try {
    await api('POST', `/api/nodes/${encodeURIComponent(node)}/${action}`);
    showBanner('');
  } catch (error) {
    showBanner(`${action} ${node}: ${error.message}`);
  }
}

// The node states each action applies to.
const allowed = { cordon: ['ready'], drain: ['ready', 'cordoned'], uncordon: ['cordoned', 'draining'] };

function renderOverview(overview) {
  const cluster = overview.cluster;
  document.getElementById('replica').textContent = `replica ${cluster.id} · ${cluster.role} · term ${cluster.term}`;
  showBanner(overview.unavailable ? `nodes and jobs are not available from this replica now: ${overview.unavailable}` : '');
  const members = cluster.members.map((member) => h('tr', { 'data-member': member.id },
    h('td', {}, member.id), h('td', {}, member.addr), h('td', {}, state(member.role)), h('td', {}, member.membership), h('td', { class: 'num' }, member.matched_index)));
  const nodes = overview.nodes.map((node) => h('tr', { 'data-node': node.name, 'data-state': node.state, 'data-connected': String(node.connected) },
    h('td', {}, node.name), h('td', {}, state(node.state)), h('td', {}, node.connected ? 'on' : 'away'),
    h('td', { class: 'num' }, `${node.running_tasks}/${node.max_tasks}`),
    h('td', { class: 'num' }, percent(node.cpu_used)), h('td', { class: 'num' }, percent(node.memory_used)),
    h('td', { class: 'num' }, node.cpu_cores), h('td', { class: 'num' }, bytes(node.memory_bytes)),
    h('td', {}, node.gpus.length ? node.gpus.map((gpu) => `${gpu.name} (${bytes(gpu.memory_bytes)}, ${gpu.nvenc_sessions} NVENC)`).join(', ') : '—'),
    h('td', {}, node.backends.join(', ')),
    h('td', {}, ['cordon', 'drain', 'uncordon'].map((action) => h('button', {
      type: 'button', 'data-action': action,
      disabled: !allowed[action].includes(node.state),
      onclick: () => nodeAction(node.name, action),
    }, action)))));
  const jobs = overview.jobs.map((job) => h('tr', { 'data-job': job.id, 'data-state': job.state },
    h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id)), h('td', {}, state(job.state)),
    h('td', {}, progress(job.tasks_done, job.tasks_total)), h('td', {}, job.owner), h('td', { class: 'wrap' }, job.input_url),
    h('td', {}, time(job.created_at_ms)), h('td', {}, time(job.finished_at_ms)), h('td', { class: 'wrap error' }, job.error)));
  main.replaceChildren(
    h('h2', {}, 'Cluster'),
    h('p', {}, `leader: replica ${cluster.leader_id || '—'} ${cluster.leader_addr} · commit ${cluster.commit_index} · applied ${cluster.applied_index}`),
    table(['replica', 'address', 'role', 'membership', 'matched'], members),
    h('h2', {}, `Nodes (${overview.nodes.length})`),
    table(['node', 'state', 'agent', 'tasks', 'cpu', 'memory', 'cores', 'ram', 'gpus', 'backends', ''], nodes),
    h('h2', {}, `Jobs (${overview.jobs.length} newest)`),
    table(['job', 'state', 'progress', 'owner', 'source', 'submitted', 'finished', 'error'], jobs),
  );
}

function renderJob(job) {
  const final = ['succeeded', 'failed', 'cancelled'].includes(job.state);
  const fields = [
    ['state', state(job.state)], ['stage', job.stage || '—'], ['progress', progress(job.tasks_done, job.tasks_total)],
    ['owner', job.owner], ['source', job.input_url], ['output', job.output_url], ['recipe', job.recipe || '—'],
    ['submitted', time(job.created_at_ms)], ['finished', time(job.finished_at_ms)],
    ['report', job.report_url ? [
      h('a', { id: 'report-page', href: `/api/jobs/${encodeURIComponent(job.id)}/report.html`, target: '_blank', rel: 'noopener' }, 'report.html'),
      ` · ${job.report_url}`,
    ] : '—'],
  ];
  if (job.error) fields.push(['error', h('span', { class: 'error' }, job.error)]);
  const renditions = job.renditions.map((rendition) => h('tr', { 'data-rendition': rendition.name },
    h('td', {}, rendition.name), h('td', {}, rendition.codec), h('td', {}, `${rendition.width}×${rendition.height}`),
    h('td', { class: 'num' }, rendition.bitrate_kbps), h('td', { class: 'num' }, rendition.peak_bitrate_kbps),
    h('td', { class: 'num', 'data-vmaf': rendition.scored ? rendition.vmaf_mean : '' }, rendition.scored ? number(rendition.vmaf_mean, 2) : 'not scored'),
    ...[['vmaf_harmonic_mean', 2], ['vmaf_min', 2], ['vmaf_p1', 2], ['psnr_y', 2], ['ssim', 4]]
      .map(([field, digits]) => h('td', { class: 'num' }, rendition.scored ? number(rendition[field], digits) : ''))));
  const tasks = job.tasks.map((task) => h('tr', { 'data-task': task.id, 'data-state': task.state },
    h('td', {}, task.id), h('td', {}, task.kind), h('td', { class: 'wrap' }, task.label), h('td', {}, state(task.state)),
    h('td', { class: 'num' }, task.attempt), h('td', {}, task.node_id || ''), h('td', {}, task.backend),
    h('td', {}, time(task.started_at_ms)), h('td', {}, time(task.finished_at_ms)), h('td', { class: 'wrap error' }, task.error)));
  main.replaceChildren(...[
    h('h2', {}, h('a', { href: '#/' }, 'Jobs'), ` / ${job.id}`),
    h('dl', { 'data-job': job.id, 'data-state': job.state }, fields.map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)])),
    final ? null : h('p', {}, h('button', { type: 'button', id: 'cancel', onclick: async () => {
      try { await api('POST', `/api/jobs/${encodeURIComponent(job.id)}/cancel`); } catch (error) { showBanner(`cancel: ${error.message}`); }
    } }, 'Cancel job')),
    h('h2', {}, 'Renditions'),
    table(['rendition', 'codec', 'size', 'kbps', 'peak kbps', 'vmaf', 'harmonic', 'min', 'p1', 'psnr y', 'ssim'], renditions),
    h('h2', {}, `Tasks (${job.tasks.length})`),
    table(['task', 'kind', 'what', 'state', 'attempt', 'node', 'backend', 'started', 'finished', 'error'], tasks),
  ].filter(Boolean));
}

// Follows `path`'s events, rendering each state. A lost stream is opened again after a
// pause that doubles (1 s to 30 s) while it keeps failing, once a plain request shows the
// credentials still pass (EventSource does not say why it failed).
let retryMs = 1000;
let retryTimer = null;
function follow(path, render) {
  if (events) events.close();
  clearTimeout(retryTimer);
  events = new EventSource(path);
  events.addEventListener('state', (event) => {
    retryMs = 1000;
    live.classList.add('on');
    render(JSON.parse(event.data));
  });
  events.addEventListener('unavailable', (event) => showBanner(event.data));
  events.addEventListener('error', () => {
    live.classList.remove('on');
    if (events.readyState !== EventSource.CLOSED) return;
    const pause = retryMs;
    retryMs = Math.min(retryMs * 2, 30000);
    retryTimer = setTimeout(() => {
      api('GET', '/api/overview').then(() => follow(path, render), (error) => {
        // Refused credentials show the sign-in form; anything else is tried again later.
        if (document.getElementById('sign-in')) return;
        showBanner(error.message);
        follow(path, render);
      });
    }, pause);
  });
}

async function route() {
  // Only a job id (job-N) makes a job page; anything else shows the front page.
  const job = location.hash.match(/^#\/jobs\/(job-[0-9]+)$/);
  try {
    // One plain request first: it shows the sign-in form if the credentials are refused.
    await api('GET', '/api/overview');
  } catch (error) {
    if (document.getElementById('sign-in')) return;
    showBanner(error.message);
  }
  document.getElementById('sign-out').hidden = false;
  if (job) follow(`/api/jobs/${job[1]}/events`, renderJob);
  else follow('/api/events', renderOverview);
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await api('DELETE', '/api/session').catch(() => {});
  signIn('');
});
window.addEventListener('hashchange', route);
route();
