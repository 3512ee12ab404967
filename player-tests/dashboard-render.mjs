// Times the dashboard's first render in headless Chromium, as an operator opening it sees
// it: signed in once with the token, then the page loaded `--loads` times, each timed from
// the navigation's start to the moment the nodes table shows `--nodes` rows. Prints one JSON
// object: the times in milliseconds, sorted (shotfarm bench scheduler --dashboard-render).
//
//   node dashboard-render.mjs --url https://HOST:PORT/ --token sft_… --nodes 1000 [--loads 5]
import { argumentsOf, launch } from './chromium.mjs';

const given = argumentsOf({ url: 'url', token: 'token', nodes: 'nodes', loads: 'loads' });
const options = { url: given.url || '', token: given.token || '', nodes: Number(given.nodes || 0), loads: given.loads === undefined ? 5 : Number(given.loads) };
if (!options.url || !options.token || !(options.nodes > 0)) throw new Error('usage: dashboard-render.mjs --url URL --token TOKEN --nodes N [--loads K]');

const browser = await launch([], { acceptInsecureCerts: true });
try {
  const page = await browser.newPage();
  await page.goto(options.url);
  await page.waitForSelector('#sign-in', { timeout: 30000 });
  await page.type('#token', options.token);
  await page.click('#sign-in button');
  await page.waitForSelector('tr[data-node]', { timeout: 30000 });
  // In every page from its start: the page's own clock (from navigation start) noted at the
  // first mutation after which the nodes table holds every node.
  await page.evaluateOnNewDocument((nodes) => {
    new MutationObserver((_, observer) => {
      if (document.querySelectorAll('tr[data-node]').length >= nodes) {
        window.shotfarmRenderedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  }, options.nodes);
  const firstRenderMs = [];
  for (let load = 0; load < options.loads; load += 1) {
    await page.goto(options.url, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.shotfarmRenderedAt !== undefined, { timeout: 30000 });
    firstRenderMs.push(await page.evaluate(() => window.shotfarmRenderedAt));
  }
  firstRenderMs.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ nodes: options.nodes, firstRenderMs })}\n`);
} finally {
  await browser.close();
}
