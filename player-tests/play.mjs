// Plays one packaged ladder in headless Chromium with hls.js or dash.js, from its lowest
// rendition, switching to its highest after two segments (about two seconds buffered ahead),
// through to the end; prints
// what happened as one JSON object (the Rust test node-agent/tests/real_players.rs judges it).
//
//   node play.mjs --player hls|dash --url http://127.0.0.1:PORT/master.m3u8 [--rate 2] [--timeout-ms 30000]
//                 [--clearkeys KID:KEY,KID:KEY]   (hex; an encrypted ladder plays through Clear Key EME:
//                 dash.js is given the keys, hls.js asks a license server, which this script answers)
//
// Every SourceBuffer the player creates is recorded (MediaSource.addSourceBuffer is wrapped
// before the player loads), so each track's buffered ranges are reported, not only the
// element's intersection of them.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { argumentsOf, launch, playerPage } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const given = argumentsOf({ player: 'player', url: 'url', rate: 'rate', 'timeout-ms': 'timeoutMs', clearkeys: 'clearkeys' });
const options = {
  player: given.player || 'hls',
  url: given.url || '',
  rate: given.rate === undefined ? 2 : Number(given.rate),
  timeoutMs: given.timeoutMs === undefined ? 30000 : Number(given.timeoutMs),
  // Clear Key's JSON Web Key form: key ids and keys in base64url.
  clearkeys: given.clearkeys === undefined ? null : Object.fromEntries(given.clearkeys.split(',').map((pair) => pair.split(':').map((hex) => Buffer.from(hex, 'hex').toString('base64url')))),
};
const scripts = {
  hls: path.join(here, 'node_modules/hls.js/dist/hls.min.js'),
  dash: path.join(here, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'),
};
if (!scripts[options.player] || !options.url) throw new Error('usage: play.mjs --player hls|dash --url URL');
const LICENSE_PATH = '/clearkey-license';

// Runs in the page.
async function play({ player, url, rate, timeoutMs, clearkeys, licensePath: LICENSE_PATH }) {
  const report = {
    player, errors: [], abortedRequests: 0, waitingWhilePlaying: [], playing: false, ended: false, switched: false,
    renditionsBuffered: [], renditions: [], audioTracks: [], subtitleTracks: [], cues: [], duration: null, currentTime: null,
    totalVideoFrames: null, totalVideoFramesAtEnded: null, droppedVideoFrames: null, buffered: [], sourceBuffers: [], timeline: [],
  };
  const ranges = (timeRanges) => Array.from({ length: timeRanges.length }, (_, index) => [timeRanges.start(index), timeRanges.end(index)]);
  const video = document.querySelector('video');
  // What the player did to the media source and the element, in order, with the play
  // position: a playback that never ends says here where it stopped and why.
  const started = performance.now();
  const note = (what) => report.timeline.push(`${Math.round(performance.now() - started)} ms @${video.currentTime.toFixed(3)}: ${what}`);
  const buffers = [];
  const sources = new Set();
  const addSourceBuffer = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (mime) {
    const buffer = addSourceBuffer.call(this, mime);
    buffers.push({ mime, buffer });
    if (!sources.has(this)) {
      sources.add(this);
      for (const event of ['sourceopen', 'sourceended', 'sourceclose']) this.addEventListener(event, () => note(event));
    }
    return buffer;
  };
  const endOfStream = MediaSource.prototype.endOfStream;
  MediaSource.prototype.endOfStream = function (...args) {
    note(`endOfStream(${args.join(',')}) from ${this.readyState}`);
    return endOfStream.apply(this, args);
  };
  const appendBuffer = SourceBuffer.prototype.appendBuffer;
  SourceBuffer.prototype.appendBuffer = function (data) {
    const source = [...sources].find((mediaSource) => [...mediaSource.sourceBuffers].includes(this));
    if (source && source.readyState === 'ended') note(`append of ${data.byteLength} bytes reopens the ended source (${(buffers.find((entry) => entry.buffer === this) || {}).mime})`);
    return appendBuffer.call(this, data);
  };
  for (const event of ['seeking', 'pause', 'waiting', 'ended']) video.addEventListener(event, () => note(event));
  // Every frame the compositor presented, by its media time (the callback may skip frames
  // under load; its presentedFrames counter does not).
  report.presented = { frames: 0, mediaTimes: [] };
  const onFrame = (_, metadata) => {
    report.presented.frames = Math.max(report.presented.frames, metadata.presentedFrames);
    report.presented.mediaTimes.push(Math.round(metadata.mediaTime * 1000) / 1000);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  video.muted = true;
  video.addEventListener('playing', () => { report.playing = true; video.playbackRate = rate; });
  video.addEventListener('waiting', () => { if (report.playing && !video.ended) report.waitingWhilePlaying.push(video.currentTime); });
  video.addEventListener('error', () => report.errors.push(`video element: ${video.error && video.error.message}`));
  let switchToHighest = () => {};
  let lowest = null;
  let highest = null;
  // After two segments of the lowest rendition, the rest comes from the highest.
  // A player busy on a loaded machine may let the first switch pass by (dash.js keeps the
  // representation of requests already scheduled); it is asked again until it takes.
  const segmentBuffered = (height) => {
    report.renditionsBuffered.push(height);
    if (report.renditionsBuffered.length >= 2 && height < Math.max(...report.renditions)) {
      report.switched = true;
      switchToHighest();
    }
  };
  const ended = new Promise((resolve) => {
    video.addEventListener('ended', () => { report.ended = true; resolve(); });
    setTimeout(resolve, timeoutMs);
  });
  if (player === 'hls') {
    // Clear Key through EME: hls.js posts the CDM's request to the license URL (answered by the
    // script driving this page) and hands the answer back to the CDM.
    const drm = clearkeys ? { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl: new URL(LICENSE_PATH, location.href).href } } } : {};
    const hls = new Hls({ capLevelToPlayerSize: false, startLevel: 0, maxBufferLength: 2, maxMaxBufferLength: 2, ...drm });
    hls.on(Hls.Events.ERROR, (_, data) => {
      // A request hls.js cancels itself (the switch drops a segment in flight) is no fault.
      if (data.details === 'aborted' && !data.fatal) report.abortedRequests += 1;
      else report.errors.push(`hls.js ${data.type} ${data.details}${data.fatal ? ' (fatal)' : ''}`);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      const order = data.levels.map((level, index) => ({ index, bitrate: level.bitrate })).sort((a, b) => a.bitrate - b.bitrate);
      lowest = order[0].index;
      highest = order[order.length - 1].index;
      report.renditions = data.levels.map((level) => level.height);
      hls.currentLevel = lowest;
      report.audioTracks = hls.audioTracks.map((track) => ({ lang: track.lang, name: track.name, default: track.default }));
      report.subtitleTracks = hls.subtitleTracks.map((track) => ({ lang: track.lang, name: track.name, default: track.default }));
      if (hls.subtitleTracks.length > 0) {
        hls.subtitleDisplay = true;
        hls.subtitleTrack = 0;
      }
      switchToHighest = () => { hls.nextLevel = highest; };
      video.play().catch((error) => report.errors.push(`play(): ${error}`));
    });
    hls.on(Hls.Events.FRAG_BUFFERED, (_, data) => {
      if (data.frag.type === 'main') segmentBuffered(report.renditions[data.frag.level]);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    const dash = dashjs.MediaPlayer().create();
    dash.updateSettings({ debug: { logLevel: 1 }, streaming: {
      text: { defaultEnabled: true },
      abr: { autoSwitchBitrate: { video: false, audio: false }, initialBitrate: { video: 1 } },
      // No fast switching: dash.js would fetch the already buffered segments again at the
      // new quality and splice them in ahead of the playhead, and Chromium was seen to lose
      // the frame at such a splice (74 of 75 frames presented) and, at the end of a clip, to
      // never fire `ended`. Each segment is fetched once; the switch takes the next one.
      buffer: { bufferTimeDefault: 2, bufferTimeAtTopQuality: 2, bufferTimeAtTopQualityLongForm: 2, fastSwitchEnabled: false },
    } });
    const events = dashjs.MediaPlayer.events;
    dash.on(events.ERROR, (event) => report.errors.push(`dash.js ${JSON.stringify(event.error || event)}`));
    dash.on(events.STREAM_INITIALIZED, () => {
      const representations = dash.getRepresentationsByType('video').slice().sort((a, b) => a.bandwidth - b.bandwidth);
      report.renditions = representations.map((representation) => representation.height);
      lowest = representations[0];
      highest = representations[representations.length - 1];
      dash.setRepresentationForTypeById('video', lowest.id);
      report.audioTracks = dash.getTracksFor('audio').map((track) => ({ lang: track.lang, name: (track.labels[0] || {}).text, default: (track.roles || []).some((role) => role.value === 'main') }));
      report.subtitleTracks = dash.getTracksFor('text').map((track) => ({ lang: track.lang, name: (track.labels[0] || {}).text }));
      if (report.subtitleTracks.length > 0) dash.setTextTrack(0);
      switchToHighest = () => dash.setRepresentationForTypeById('video', highest.id);
    });
    dash.on(events.FRAGMENT_LOADING_COMPLETED, (event) => {
      const request = event.request || {};
      if (request.mediaType === 'video' && request.type === 'MediaSegment' && request.representation) segmentBuffered(request.representation.height);
    });
    if (clearkeys) dash.setProtectionData({ 'org.w3.clearkey': { clearkeys } });
    dash.initialize(video, url, true);
  }
  await ended;
  report.duration = video.duration;
  report.currentTime = video.currentTime;
  // Chromium posts its decode statistics to the page now and then, not with each frame: read
  // right at `ended`, the last frame or two may not be counted yet (seen with a decryptor in
  // the path). The counts are read once they have held still for 300 ms (at most 3 s).
  let quality = video.getVideoPlaybackQuality();
  report.totalVideoFramesAtEnded = quality.totalVideoFrames;
  for (let still = 0, waited = 0; still < 3 && waited < 3000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = video.getVideoPlaybackQuality();
    still = next.totalVideoFrames === quality.totalVideoFrames ? still + 1 : 0;
    quality = next;
  }
  report.totalVideoFrames = quality.totalVideoFrames;
  report.droppedVideoFrames = quality.droppedVideoFrames;
  report.buffered = ranges(video.buffered);
  // The cues of the text track shown (the first subtitle rendition).
  for (const track of Array.from(video.textTracks)) {
    if (track.mode !== 'disabled' && track.cues && track.cues.length > 0) {
      report.cues = Array.from(track.cues).map((cue) => [cue.startTime, cue.endTime, cue.text]);
      break;
    }
  }
  report.mediaSourceStates = [...sources].map((mediaSource) => mediaSource.readyState);
  report.sourceBuffers = buffers.map(({ mime, buffer }) => {
    try { return { mime, buffered: ranges(buffer.buffered) }; } catch (error) { return { mime, buffered: null, error: String(error) }; }
  });
  return report;
}

const browser = await launch(['--autoplay-policy=no-user-gesture-required', '--mute-audio']);
try {
  const { page, consoleErrors } = await playerPage(browser, options.url);
  // A Clear Key license server for hls.js: the CDM's request names key ids, the answer is
  // the JSON Web Key set of those this script was given.
  const licenseUrl = new URL(LICENSE_PATH, options.url).href;
  const licenseRequests = [];
  const answerLicense = (request) => {
    if (request.url() !== licenseUrl) return request.continue();
    let kids = [];
    try { kids = JSON.parse(request.postData() || '{}').kids || []; } catch { kids = []; }
    licenseRequests.push(kids);
    const keys = kids.filter((kid) => options.clearkeys[kid]).map((kid) => ({ kty: 'oct', kid, k: options.clearkeys[kid] }));
    return request.respond({ status: keys.length ? 200 : 403, contentType: 'application/json', body: JSON.stringify({ keys, type: 'temporary' }) });
  };
  if (options.clearkeys && options.player === 'hls') page.on('request', answerLicense);
  else await page.setRequestInterception(false);
  await page.addScriptTag({ path: scripts[options.player] });
  const report = await page.evaluate(play, { ...options, licensePath: LICENSE_PATH });
  report.licenseRequests = licenseRequests;
  report.consoleErrors = consoleErrors;
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await browser.close();
}
