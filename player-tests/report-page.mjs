// Loads a job's report.html from file:// in headless Chromium and prints what a reader would
// see as one JSON object (node-agent/tests/task_handlers.rs judges it): console errors and
// page errors, requests the page tried (it must make none), each table's body rows, and each
// plot's series as drawn (the polylines of series stroke width, their distinct colours), its
// legend entries, its bars and boundary marks, and its rendered size.
//
//   node report-page.mjs --url file:///path/to/report.html
import { argumentsOf, launch } from './chromium.mjs';

const options = { url: '', ...argumentsOf({ url: 'url' }) };
if (!options.url.startsWith('file://')) throw new Error('usage: report-page.mjs --url file:///…/report.html');

// Runs in the page. Series polylines are drawn 2 px wide; axes and ticks 1 px.
function inspect() {
  const tables = {};
  for (const table of document.querySelectorAll('table')) tables[table.id] = table.tBodies[0] ? table.tBodies[0].rows.length : 0;
  const plots = {};
  for (const figure of document.querySelectorAll('figure.plot')) {
    const svg = figure.querySelector('svg');
    const series = svg ? Array.from(svg.querySelectorAll('polyline[stroke-width="2"]')) : [];
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    plots[figure.id] = {
      declaredSeries: Number(figure.dataset.series),
      seriesLines: series.length,
      seriesColours: new Set(series.map((line) => line.getAttribute('stroke'))).size,
      legend: figure.querySelectorAll('.legend li').length,
      // Filled rectangles but the white background: the timeline's attempts.
      bars: svg ? svg.querySelectorAll('rect:not([fill="none"]):not([fill="#FFFFFF"])').length : 0,
      // Unfilled zero-width rectangles: the shot and chunk boundaries.
      boundaries: svg ? svg.querySelectorAll('rect[fill="none"][width="0"]').length : 0,
      width: box.width,
      height: box.height,
    };
  }
  return { title: document.title, tables, plots, scripts: document.querySelectorAll('script').length };
}

const browser = await launch();
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  const requests = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('request', (request) => { if (request.url() !== options.url) requests.push(request.url()); });
  await page.goto(options.url, { waitUntil: 'load' });
  const report = await page.evaluate(inspect);
  report.consoleErrors = consoleErrors;
  report.requests = requests;
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await browser.close();
}
