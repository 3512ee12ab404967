// What every script here shares: its `--name value` arguments, and headless Chromium
// (`$CHROMIUM`, else Debian's /usr/bin/chromium) started as the tests need it — no sandbox
// (root in CI), no /dev/shm (a container's is 64 MB), no GPU.
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
