// One RTCPeerConnection per remote member (a mesh: a session has a mentor and a few learners).
// Negotiation is the "perfect negotiation" pattern of the WebRTC spec (and MDN): either side may
// offer at any time; on a collision the polite side rolls back and takes the other's offer, the
// impolite side ignores it. So adding a track, sharing the screen or restarting ICE never needs
// to know who "called" whom.

const MAX_ICE_RESTARTS = 3;
const DISCONNECTED_GRACE_MS = 5000; // "disconnected" often heals by itself within a few seconds
const RESTART_TIMEOUT_MS = 10000; // a restart whose offer or answer went missing counts as failed
// A connection that never gets going counts as failed too. Seen here: when both sides offered at
// once and the polite one rolled back, Chromium sometimes never gathered candidates again and
// the connection sat in "new" for good; an ICE restart recovers it.
const FIRST_CONNECT_MS = 12000;
// Both sides create their connection at the same moment (go live): the polite side waits this
// long for the other's offer before offering itself, so the first negotiation rarely collides.
const POLITE_WAIT_MS = 1500;

export class Peer {
  // signal(data) sends to the remote peer; outStream only names our tracks (msid) on their side;
  // onTrack(stream) when remote media arrives; onState("connecting"|"connected"|"reconnecting"|"failed").
  constructor({ id, polite, iceServers, signal, tracks, outStream, onTrack, onState }) {
    this.id = id;
    this.polite = polite;
    this.signal = signal;
    this.outStream = outStream;
    this.onState = onState;
    this.senders = {}; // kind -> RTCRtpSender we added
    this.remote = new MediaStream();
    this.restarts = 0;
    this.timer = null;
    this.due = 0;
    this.closed = false;
    this.videoSuspended = false; // quality.js: audio only on a very poor link
    this.outgoing = {}; // kind -> the track we send (or would, once attached / not suspended)
    this.attached = !polite;
    this.everConnected = false;

    const pc = (this.pc = new RTCPeerConnection({ iceServers }));
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;

    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ description: pc.localDescription.toJSON() });
      } catch (err) {
        if (!this.closed) console.warn("room: offer failed", err);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => this.signal({ candidate: candidate ? candidate.toJSON() : null });
    pc.ontrack = ({ track }) => {
      // One stream per member, whatever stream ids the other side used: the tile plays it.
      if (!this.remote.getTracks().includes(track)) this.remote.addTrack(track);
      track.addEventListener("ended", () => this.remote.removeTrack(track));
      onTrack(this.remote);
    };
    pc.onconnectionstatechange = () => this.watch();
    pc.oniceconnectionstatechange = () => this.watch();

    for (const track of tracks) this.setTrack(track.kind, track);
    if (!this.attached) this.attachTimer = setTimeout(() => this.attach(), POLITE_WAIT_MS);
    this.schedule(FIRST_CONNECT_MS, false);
  }

  // Our tracks join the connection: at once on the impolite side; on the polite side with the
  // answer to the first offer (addTrack then reuses the offered transceivers, so the answer
  // carries our media without another round), or when no offer came.
  attach() {
    if (this.attached || this.closed) return;
    clearTimeout(this.attachTimer);
    this.attached = true;
    for (const [kind, track] of Object.entries(this.outgoing)) this.setTrack(kind, track);
  }

  // The perfect negotiation receiver, as in the spec's example.
  async receive({ description, candidate }) {
    const pc = this.pc;
    if (this.closed) return;
    try {
      if (description) {
        const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
        const offerCollision = description.type === "offer" && !readyForOffer;
        this.ignoreOffer = !this.polite && offerCollision;
        if (this.ignoreOffer) return;
        this.isSettingRemoteAnswerPending = description.type === "answer";
        await pc.setRemoteDescription(description);
        this.isSettingRemoteAnswerPending = false;
        if (description.type === "offer") {
          this.attach();
          await pc.setLocalDescription();
          this.signal({ description: pc.localDescription.toJSON() });
        }
      } else if (candidate) {
        try {
          await pc.addIceCandidate(candidate);
        } catch (err) {
          if (!this.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      if (!this.closed) console.warn("room: signalling with", this.id, "failed", err);
    }
  }

  // Send `track` (or nothing) as our `kind` media. Replacing a track needs no renegotiation;
  // the first track of a kind does (negotiationneeded takes care of it).
  setTrack(kind, track) {
    if (this.closed) return;
    this.outgoing[kind] = track;
    if (!this.attached) return;
    if (kind === "video" && this.videoSuspended) track = null;
    const sender = this.senders[kind];
    if (sender) {
      if (sender.track !== track) sender.replaceTrack(track).catch((err) => console.warn("room: replaceTrack", err));
    } else if (track) {
      this.senders[kind] = this.pc.addTrack(track, this.outStream);
    }
  }

  suspendVideo(suspended) {
    this.videoSuspended = suspended;
    this.setTrack("video", this.outgoing.video ?? null);
  }

  // The other side's signals went missing (signal.lost): start over with fresh ICE. An offer of
  // ours still waiting for its (lost) answer is rolled back first, or we would wait forever.
  async renegotiate() {
    if (this.closed) return;
    try {
      if (this.pc.signalingState === "have-local-offer") await this.pc.setLocalDescription({ type: "rollback" });
    } catch (err) {
      console.warn("room: rollback failed", err);
    }
    this.pc.restartIce();
  }

  watch() {
    if (this.closed) return;
    const conn = this.pc.connectionState;
    const ice = this.pc.iceConnectionState;
    if (conn === "connected" || ((ice === "connected" || ice === "completed") && conn !== "failed")) {
      clearTimeout(this.timer);
      this.timer = null;
      this.due = 0;
      this.restarts = 0;
      this.everConnected = true;
      this.onState("connected");
    } else if (conn === "failed" || ice === "failed") {
      this.schedule(0);
    } else if (conn === "disconnected" || ice === "disconnected") {
      this.schedule(DISCONNECTED_GRACE_MS);
    }
  }

  // Recover in `ms` unless connected by then; an earlier deadline wins over a later one.
  schedule(ms, announce = true) {
    const due = performance.now() + ms;
    if (this.timer && this.due <= due) return;
    clearTimeout(this.timer);
    if (announce) this.onState("reconnecting");
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.recover();
    }, ms);
  }

  recover() {
    if (this.closed) return;
    if (this.restarts >= MAX_ICE_RESTARTS) {
      this.onState("failed");
      return;
    }
    this.restarts += 1;
    this.onState(this.everConnected ? "reconnecting" : "connecting");
    this.pc.restartIce();
    this.schedule(RESTART_TIMEOUT_MS, false);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.attachTimer);
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.onconnectionstatechange = this.pc.oniceconnectionstatechange = null;
    this.pc.close();
  }
}
