// Uses a replica's web dashboard in headless Chromium as an operator would, and prints what
// happened as one JSON object (cluster-tests/tests/cluster/t98_dashboard.rs judges it):
//   1. opens the page and is asked to sign in; a submitter's token is refused (its message);
//   2. signs in with the operator's token: the nodes and jobs as shown; uncordons the node
//      (cordoned by the test so that the job waits for the page);
//   3. opens the job's page and watches it, without reloading, until it ends (the states it
//      showed in turn, the renditions' VMAF, the report page it links to);
//   4. back on the front page, presses the node's "drain" button and waits for the row to
//      say so (only the live updates redraw it);
//   5. a state-changing request without the dashboard's header, from the page: its status;
//      and malformed or hostile requests with it: their statuses and messages.
// The replica's certificate is the farm's own CA's, which this browser does not know, so
// certificate errors are accepted (the test's gRPC and HTTP clients verify it).
//
//   node dashboard.mjs --url https://HOST:PORT/ --token OPERATOR --refused-token SUBMITTER --job ID --node NAME
import { argumentsOf, launch } from './chromium.mjs';

const names = { url: 'url', token: 'token', 'refused-token': 'refusedToken', job: 'job', node: 'node' };
const options = argumentsOf(names);
for (const [flag, name] of Object.entries(names)) if (!options[name]) throw new Error(`--${flag} is required`);

const report = { consoleErrors: [], foreignRequests: [], refusedRequests: [], loads: 0, jobStates: [] };
const browser = await launch([], { acceptInsecureCerts: true });
const waitOptions = { timeout: 60000 };
try {
  const page = await browser.newPage();
  // Refused requests are reported on their own (the test expects some), not as console errors.
  page.on('console', (message) => { if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) report.consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => report.consoleErrors.push(String(error)));
  page.on('response', (response) => { if (response.status() >= 400) report.refusedRequests.push(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`); });
  page.on('load', () => { report.loads += 1; });
  // Requests that did not reach our origin: the page must make none.
  page.on('request', (request) => { if (!request.url().startsWith(new URL(options.url).origin) && !request.url().startsWith('data:')) report.foreignRequests.push(request.url()); });

  await page.goto(options.url);
  await page.waitForSelector('#sign-in', waitOptions);
  report.askedToSignIn = true;

  report.firstLookMessage = await page.$eval('#sign-in-error', (element) => element.textContent);

  await page.type('#token', options.refusedToken);
  // Sending the form clears the first look's message: what appears next is the refusal's.
  await page.click('#sign-in button');
  await page.waitForFunction(() => document.getElementById('sign-in-error').textContent.length > 0, waitOptions);
  report.refusedMessage = await page.$eval('#sign-in-error', (element) => element.textContent);

  await page.$eval('#token', (input) => { input.value = ''; });
  await page.type('#token', options.token);
  await page.click('#sign-in button');
  await page.waitForSelector(`tr[data-node="${options.node}"]`, waitOptions);
  report.nodes = await page.$$eval('tr[data-node]', (rows) => rows.map((row) => ({ name: row.dataset.node, state: row.dataset.state, connected: row.dataset.connected })));
  report.jobs = await page.$$eval('tr[data-job]', (rows) => rows.map((row) => ({ id: row.dataset.job, state: row.dataset.state })));
  report.replica = await page.$eval('#replica', (element) => element.textContent);
  report.members = await page.$$eval('tr[data-member]', (rows) => rows.length);
  // The HTTP versions the page and its API calls were fetched over.
  report.protocols = await page.evaluate(() => [...new Set(performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map((entry) => entry.nextHopProtocol))]);
  await page.evaluate(() => { window.shotfarmLoaded = true; });

  // The node was cordoned before the job was submitted: uncordoning it lets the job start.
  const row = `tr[data-node="${options.node}"]`;
  await page.click(`${row} button[data-action="uncordon"]`);
  await page.waitForSelector(`${row}[data-state="ready"]`, waitOptions);

  await page.click(`tr[data-job="${options.job}"] a`);
  await page.waitForSelector(`dl[data-job="${options.job}"]`, waitOptions);
  // Each state the job's page shows in turn, sampled every 50 ms until a final one.
  report.jobStates = await page.evaluate(async (job) => {
    const seen = [];
    const deadline = Date.now() + 90000;
    for (;;) {
      const shown = document.querySelector(`dl[data-job="${job}"]`);
      const state = shown ? shown.dataset.state : null;
      if (state && seen[seen.length - 1] !== state) seen.push(state);
      if (['succeeded', 'failed', 'cancelled'].includes(state) || Date.now() > deadline) return seen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, options.job);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-rendition]').length > 0, waitOptions);
  report.renditions = await page.$$eval('tr[data-rendition]', (rows) => rows.map((row) => ({ name: row.dataset.rendition, vmaf: Number(row.querySelector('[data-vmaf]').dataset.vmaf) })));
  report.tasks = await page.$$eval('tr[data-task]', (rows) => rows.map((row) => row.dataset.state));
  // The report page the job's page links to, as the browser gets it.
  await page.waitForSelector('#report-page', waitOptions);
  report.reportPage = await page.$eval('#report-page', async (link) => {
    const response = await fetch(link.href);
    const text = await response.text();
    return { status: response.status, policy: response.headers.get('content-security-policy'), svgs: (text.match(/<svg/g) || []).length, title: (text.match(/<title>([^<]*)<\/title>/) || [])[1] };
  });

  await page.evaluate(() => { location.hash = '#/'; });
  await page.waitForSelector(`${row} button[data-action="drain"]:not([disabled])`, waitOptions);
  await page.click(`${row} button[data-action="drain"]`);
  await page.waitForSelector(`${row}[data-state="draining"]`, waitOptions);
  report.drained = await page.$eval(row, (element) => element.dataset.state);
  report.banner = await page.$eval('#banner', (element) => (element.hidden ? '' : element.textContent));
  report.stillLoaded = await page.evaluate(() => window.shotfarmLoaded === true);

  report.forgedChange = await page.evaluate(async (node) => {
    const response = await fetch(`/api/nodes/${node}/uncordon`, { method: 'POST' });
    return { status: response.status, body: await response.text() };
  }, options.node);
  // Malformed and hostile requests, with the header: each must be answered with a 4xx that
  // says what was wrong.
  report.hostile = await page.evaluate(async (node) => {
    const send = async (method, path, body) => {
      const response = await fetch(path, { method, body, headers: { 'x-shotfarm-dashboard': '1', 'content-type': 'application/json' } });
      return { request: `${method} ${path}`, status: response.status, body: await response.text() };
    };
    return [
      await send('POST', `/api/nodes/${node}/explode`),
      await send('POST', '/api/nodes/no-such-node/cordon'),
      await send('GET', '/api/jobs/..%2F..%2Fetc%2Fpasswd'),
      await send('GET', '/api/jobs/job-99999'),
      await send('GET', '/api/jobs/job-99999/report.html'),
      await send('POST', '/api/session', '{"token": "nonsense"}'),
      await send('POST', '/api/session', 'not json'),
    ];
  }, options.node);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await browser.close();
}
