// What every script here shares: its `--name value` arguments, headless Chromium
// (`$CHROMIUM`, else Debian's /usr/bin/chromium) started as the tests need it — no sandbox
// (root in CI), no /dev/shm (a container's is 64 MB), no GPU — and the players' page.
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

// The script's arguments: `names` maps each `--name` to its option key; every value is a
// string. An unknown or valueless argument throws, saying which.
export function argumentsOf(names) {
  const { values } = parseArgs({ options: Object.fromEntries(Object.keys(names).map((name) => [name, { type: 'string' }])), strict: true });
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [names[name], value]));
}

// Headless Chromium; `extraArgs` on top of the shared flags, `options` for puppeteer.
export function launch(extraArgs = [], options = {}) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', ...extraArgs],
    ...options,
  });
}

// A page with one <video>, at the origin of `url` (a secure context, which EME and so Clear
// Key need; about:blank is not): its own request is answered here, the rest go to the server.
// Request interception stays on for the caller to answer requests of its own, or to turn off.
// `consoleErrors` collects the page's console errors and uncaught exceptions.
export async function playerPage(browser, url) {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  const pageUrl = new URL('/player.html', url).href;
  const answerPage = (request) => {
    if (request.url() === pageUrl) request.respond({ status: 200, contentType: 'text/html', body: '<!doctype html><html><head><link rel="icon" href="data:,"></head><body><video></video></body></html>' });
    else request.continue();
  };
  await page.setRequestInterception(true);
  page.on('request', answerPage);
  await page.goto(pageUrl);
  page.off('request', answerPage);
  return { page, consoleErrors };
}
