// Network quality per remote peer, read from getStats() every 2 s, and what we do about it: on a
// link that stays poor we send less video (half, then quarter resolution at a lower bitrate), on
// a very poor one none at all (audio carries a lesson; frozen video does not), and step back up
// once it recovers. Decisions wait for a few readings in a row so one bad second does not flap.

const EVERY_MS = 2000;
const DOWN_AFTER = 3; // poor readings in a row before stepping down
const UP_AFTER = 5; // good readings in a row before stepping up

// Level 0 is full quality; the last level sends no video.
const LEVELS = [
  { scale: 1, maxBitrate: null },
  { scale: 2, maxBitrate: 500_000 },
  { scale: 4, maxBitrate: 200_000 },
  { audioOnly: true },
];
const AUDIO_ONLY = LEVELS.length - 1;

export function grade({ rtt, loss, jitter, bitrate }) {
  if (loss > 0.2 || rtt > 1 || (bitrate !== undefined && bitrate < 60_000)) return "very-poor";
  if (loss > 0.08 || rtt > 0.5 || jitter > 0.1 || (bitrate !== undefined && bitrate < 150_000)) return "poor";
  if (loss > 0.03 || rtt > 0.25 || jitter > 0.05 || (bitrate !== undefined && bitrate < 400_000)) return "fair";
  return "good";
}

function read(report, previous) {
  let pair = null;
  let lost = 0;
  let received = 0;
  let jitter = 0;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) pair = report.get(stat.selectedCandidatePairId);
    if (!pair && stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pair = stat;
    if (stat.type === "inbound-rtp") {
      lost += stat.packetsLost || 0;
      received += stat.packetsReceived || 0;
      jitter = Math.max(jitter, stat.jitter || 0);
    }
  });
  // Loss over the last interval, not since the call began.
  const newLost = Math.max(lost - (previous?.lost ?? 0), 0);
  const newReceived = Math.max(received - (previous?.received ?? 0), 0);
  return {
    lost,
    received,
    jitter,
    loss: newLost + newReceived ? newLost / (newLost + newReceived) : 0,
    rtt: pair?.currentRoundTripTime ?? 0,
    bitrate: pair?.availableOutgoingBitrate,
  };
}

export class Quality {
  // peers: Map(id -> Peer); onChange({worst, audioOnly}) when the picture changes.
  constructor(peers, onChange) {
    this.peers = peers;
    this.onChange = onChange;
    this.links = new Map(); // peer id -> {previous, grade, level, poor, good}
    this.timer = null;
    this.last = "";
  }

  start() {
    if (!this.timer) this.timer = setInterval(() => this.sample(), EVERY_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.links.clear();
  }

  async sample() {
    for (const [id, peer] of this.peers) {
      if (peer.pc.connectionState !== "connected") continue;
      const link = this.links.get(id) ?? { previous: null, grade: "good", level: 0, poor: 0, good: 0 };
      this.links.set(id, link);
      let reading;
      try {
        reading = read(await peer.pc.getStats(), link.previous);
      } catch (_) {
        continue; // closed meanwhile
      }
      link.previous = reading;
      link.grade = grade(reading);
      await this.adapt(peer, link);
    }
    for (const id of this.links.keys()) if (!this.peers.has(id)) this.links.delete(id);
    this.report();
  }

  async adapt(peer, link) {
    const bad = link.grade === "poor" || link.grade === "very-poor";
    link.poor = bad ? link.poor + 1 : 0;
    link.good = link.grade === "good" ? link.good + 1 : 0;
    let level = link.level;
    if (link.grade === "very-poor" && link.poor >= DOWN_AFTER) level = AUDIO_ONLY;
    // Merely poor steps down one notch but never to audio only, nor up from it.
    else if (bad && link.poor >= DOWN_AFTER) level = Math.max(level, Math.min(level + 1, AUDIO_ONLY - 1));
    else if (link.good >= UP_AFTER) level = Math.max(level - 1, 0);
    if (level === link.level) return;
    link.poor = link.good = 0;
    link.level = level;
    await apply(peer, LEVELS[level]);
  }

  report() {
    const order = ["good", "fair", "poor", "very-poor"];
    let worst = "good";
    let audioOnly = false;
    for (const link of this.links.values()) {
      if (order.indexOf(link.grade) > order.indexOf(worst)) worst = link.grade;
      if (link.level === AUDIO_ONLY) audioOnly = true;
    }
    const key = `${worst}/${audioOnly}`;
    if (key === this.last) return;
    this.last = key;
    this.onChange({ worst, audioOnly });
  }
}

async function apply(peer, level) {
  peer.suspendVideo(Boolean(level.audioOnly));
  if (level.audioOnly) return;
  const sender = peer.senders.video;
  if (!sender?.track) return;
  try {
    const params = sender.getParameters();
    if (!params.encodings?.length) return; // not negotiated yet
    const encoding = params.encodings[0];
    encoding.scaleResolutionDownBy = level.scale;
    if (level.maxBitrate) encoding.maxBitrate = level.maxBitrate;
    else delete encoding.maxBitrate;
    await sender.setParameters(params);
  } catch (err) {
    console.warn("room: could not change the video quality", err);
  }
}
