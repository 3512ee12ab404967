// Fast-forwards one packaged DASH ladder in headless Chromium with Shaka Player, which takes a
// DASH trick-mode AdaptationSet (`http://dashif.org/guidelines/trickmode`) as the trick-play
// track of the video it names; prints what happened as one JSON object (the Rust test
// node-agent/tests/real_players.rs judges it).
//
//   node trick-play.mjs --url http://127.0.0.1:PORT/manifest.mpd [--rate 8] [--timeout-ms 30000]
//
// It plays one second at normal speed, then calls trickPlay(rate) until the video ends, and
// reports every segment Shaka fetched (with the play position at the time), the trick-mode
// tracks the manifest gave each video stream, errors, and the frames presented.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { argumentsOf, launch, playerPage } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const given = argumentsOf({ url: 'url', rate: 'rate', 'timeout-ms': 'timeoutMs' });
const options = {
  url: given.url || '',
  rate: given.rate === undefined ? 8 : Number(given.rate),
  timeoutMs: given.timeoutMs === undefined ? 30000 : Number(given.timeoutMs),
};
if (!options.url) throw new Error('usage: trick-play.mjs --url URL [--rate 8] [--timeout-ms 30000]');

// Runs in the page.
async function fastForward({ url, rate, timeoutMs }) {
  const report = { errors: [], trickModeVideos: [], segments: [], trickPlayFrom: null, ended: false, duration: null, currentTime: null, presentedFrames: 0, playbackRates: [] };
  const video = document.querySelector('video');
  video.muted = true;
  let presented = 0;
  const onFrame = (_, metadata) => {
    presented = Math.max(presented, metadata.presentedFrames);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  video.addEventListener('ratechange', () => report.playbackRates.push(video.playbackRate));
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  await player.attach(video);
  // A short buffer, so that what plays after trickPlay() is fetched after it.
  player.configure({ streaming: { bufferingGoal: 1, rebufferingGoal: 0.5, bufferBehind: 1 } });
  player.addEventListener('error', (event) => report.errors.push(`shaka ${event.detail && event.detail.code}: ${JSON.stringify(event.detail && event.detail.data)}`));
  player.getNetworkingEngine().registerResponseFilter((type, response) => {
    if (type === shaka.net.NetworkingEngine.RequestType.SEGMENT) report.segments.push({ uri: new URL(response.uri).pathname, at: video.currentTime });
  });
  const ended = new Promise((resolve) => {
    video.addEventListener('ended', () => { report.ended = true; resolve(); });
    setTimeout(resolve, timeoutMs);
  });
  try {
    await player.load(url);
  } catch (error) {
    report.errors.push(`load: ${error && error.code} ${JSON.stringify(error && error.data)}`);
    return report;
  }
  report.trickModeVideos = player.getManifest().variants
    .filter((variant) => variant.video)
    .map((variant) => ({ video: variant.video.height, trickMode: variant.video.trickModeVideo ? variant.video.trickModeVideo.height : null }));
  await video.play().catch((error) => report.errors.push(`play(): ${error}`));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  report.trickPlayFrom = { segments: report.segments.length, at: video.currentTime };
  player.trickPlay(rate);
  await ended;
  report.duration = video.duration;
  report.currentTime = video.currentTime;
  report.presentedFrames = presented;
  await player.destroy();
  return report;
}

const browser = await launch(['--autoplay-policy=no-user-gesture-required', '--mute-audio']);
try {
  const { page, consoleErrors } = await playerPage(browser, options.url);
  await page.setRequestInterception(false);
  await page.addScriptTag({ path: path.join(here, 'node_modules/shaka-player/dist/shaka-player.compiled.js') });
  const report = await page.evaluate(fastForward, options);
  report.consoleErrors = consoleErrors;
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await browser.close();
}
