// The live room page (/room/<code>/): lobby → call → feedback, over the room socket described in
// backend/rooms/protocol.py. This module owns the socket, the room's state and the views;
// signal.js numbers signalling, peer.js runs one RTCPeerConnection per member, quality.js
// watches the links, board.js draws, panels.js holds chat and checklist.
// It imports nothing from app.js: the page loads that under its fingerprinted name, an import
// here would load a second copy (see live.js).

import { Board } from "./board.js";
import { Panels } from "./panels.js";
import { Peer } from "./peer.js";
import { Quality } from "./quality.js";
import { Signalling } from "./signal.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const REFUSAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4408, 4410, 4429]);
const REFUSAL_TEXT = {
  4401: "Your sign-in has expired. Sign in again to join the room.",
  4403: "This room is for the session's mentor and learners with a confirmed booking.",
  4404: "There is no room at this address.",
  4408: "The room is not open right now.",
  4410: "This session was cancelled or has ended.",
  4429: "Too many messages went out too quickly, so the room closed the connection. Reload the page to join again.",
};
const PING_MS = 20000;
const MAX_BACKOFF_MS = 15000;
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true };

const $ = (selector) => document.querySelector(selector);
const $$ = (selector) => [...document.querySelectorAll(selector)];

const state = {
  view: "",
  role: config.me.role,
  peer: null, // our peer id on the current socket
  me: null,
  session: { ...config.session },
  members: new Map(), // peer id -> member, the others in the room
  timer: { elapsed: 0, running: false, at: performance.now() },
  ready: false,
  audio: true, // what the user chose; whether we can is in `media`
  video: true,
  audioOnly: false, // quality.js paused our video on a very poor link
  quality: "good",
  links: {}, // peer id -> "connecting" | "connected" | "reconnecting" | "failed"
  ended: false,
  left: false,
  refused: null,
};
const peers = new Map(); // peer id -> Peer
const pcs = new Map(); // peer id -> RTCPeerConnection (tests and debugging read it)
// settled: the first camera/microphone request has been answered (until then we say nothing
// about our media, and the others see the default: on)
const media = { audio: null, camera: null, screen: null, settled: false };
const outStream = new MediaStream(); // only names our tracks for the other side

let socket = null;
let signalling = null;
let iceServers = [];
let backoff = 1000;
let pingTimer = null;
let retryTimer = null;
let sentMedia = "";
const departed = new Set(); // peers that left: a late signal from one must not revive it

// --- socket -----------------------------------------------------------------------------------------
function send(frame) {
  if (socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

function connect() {
  clearTimeout(retryTimer);
  if (socket || state.ended || state.left) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${config.socket}`);
  socket = ws;
  // A socket is one member ("peer") for the others: its signalling starts afresh with it.
  signalling = new Signalling((frame) => ws.readyState === WebSocket.OPEN && (ws.send(JSON.stringify(frame)), true));
  ws.addEventListener("open", () => {
    if (ws === socket) pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
  });
  ws.addEventListener("message", (event) => {
    if (ws !== socket) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    (HANDLERS[frame.type] || (() => {}))(frame);
  });
  ws.addEventListener("close", (event) => closed(ws, event));
}

function closed(ws, event) {
  if (ws !== socket) return; // one we let go of on purpose
  detach();
  if (state.ended || state.left) return;
  if (state.refused || REFUSAL_CLOSE_CODES.has(event.code)) {
    refused(state.refused, event.code);
    return;
  }
  status("Connection to the room lost. Reconnecting…");
  if (!navigator.onLine) {
    addEventListener("online", connect, { once: true });
    return;
  }
  retryTimer = setTimeout(connect, backoff * (0.75 + Math.random() * 0.5));
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
}

// Forget the socket and everything tied to its peer id.
function detach() {
  clearInterval(pingTimer);
  socket = null;
  state.peer = null;
  signalling?.close();
  dropPeers();
}

function disconnect() {
  clearTimeout(retryTimer);
  const ws = socket;
  if (!ws) return;
  detach();
  // Closing a socket that is still connecting logs an error in Chromium: let it open first.
  if (ws.readyState === WebSocket.CONNECTING) ws.addEventListener("open", () => ws.close(1000), { once: true });
  else ws.close(1000);
}

// "Rejoin": a new socket, so a new peer id and fresh connections with everyone.
function rejoin() {
  disconnect();
  status("Rejoining…");
  connect();
}

// --- frames from the server ---------------------------------------------------------------------------
const HANDLERS = {
  welcome(frame) {
    backoff = 1000;
    status("");
    state.refused = null;
    state.peer = frame.you.peer;
    state.me = frame.you;
    state.session = { ...state.session, ...frame.session };
    state.members = new Map(frame.members.map((m) => [m.peer, m]));
    iceServers = frame.ice_servers || [];
    setTimer(frame.timer);
    panels.setChat(frame.chat || []);
    board.replace(frame.strokes || []);
    panels.setChecklist(frame.checklist || []);
    // Presence starts afresh with every socket: tell the room what we chose before.
    sentMedia = "";
    sendMedia();
    if (state.ready) send({ type: "ready", ready: true });
    renderMembers();
    route();
  },
  "member.joined"({ member }) {
    state.members.set(member.peer, member);
    renderMembers();
    if (state.view === "call") ensurePeer(member.peer);
  },
  "member.left"({ peer }) {
    departed.add(peer);
    state.members.delete(peer);
    dropPeer(peer);
    renderMembers();
  },
  "member.ready"({ peer, ready }) {
    const member = state.members.get(peer);
    if (member) member.ready = ready;
    renderMembers();
  },
  "member.media"({ peer, audio, video }) {
    const member = state.members.get(peer);
    if (member) Object.assign(member, { audio, video });
    renderMembers();
  },
  "session.state"({ state: value }) {
    state.session.state = value;
    route();
  },
  timer: setTimer,
  signal(frame) {
    // The sender's "joined" may still be on its way: its first offer makes it a peer.
    if (departed.has(frame.from)) return;
    if (!signalling.has(frame.from)) ensurePeer(frame.from);
    signalling.receive(frame);
  },
  "signal.lost"({ from }) {
    signalling.lost(from);
    peers.get(from)?.renegotiate();
  },
  chat({ message }) {
    panels.addChat(message);
  },
  stroke({ stroke }) {
    board.add(stroke);
  },
  "board.cleared"() {
    board.clear();
  },
  checklist({ item }) {
    panels.updateItem(item);
  },
  ended() {
    end();
  },
  refused(frame) {
    state.refused = frame; // the close that follows shows it
  },
  error(frame) {
    if (frame.ref === "stroke") board.refused();
    if (frame.ref === "checklist") panels.restoreChecklist();
    if (frame.ref === "go_live") {
      delete $("#go-live").dataset.pending;
      $("#go-live").disabled = false;
      note("#go-live-note", frame.message);
      return;
    }
    // A peer that left while our signal was on its way: its "left" follows.
    if (frame.code === "unknown_peer") return;
    toast(frame.message, "error");
  },
};

// --- views ------------------------------------------------------------------------------------------
function showView(name) {
  if (state.view === name) return;
  state.view = name;
  document.getElementById("main").dataset.view = name;
  for (const view of $$("[data-view-name]")) view.hidden = view.dataset.viewName !== name;
  const heading = $(`[data-view-name="${name}"] h1`);
  if (heading && ["ended", "left", "refused"].includes(name)) heading.focus();
}

function route() {
  if (state.ended) return;
  if (state.session.state === "live") enterCall();
  else showView("lobby");
  renderGoLive();
}

function enterCall() {
  showView("call");
  quality.start();
  for (const id of state.members.keys()) ensurePeer(id);
  renderTiles();
}

function end() {
  state.ended = true;
  $("#ended-duration").textContent = duration(elapsedNow());
  hangUp();
  disconnect();
  showView("ended");
}

function leave() {
  state.left = true;
  hangUp();
  disconnect();
  showView("left");
}

function comeBack() {
  state.left = false;
  showView("connecting");
  media.settled = false;
  startMedia();
  connect();
}

function refused(frame, code) {
  if (frame?.code === "ended") {
    // The session ended while we were away: the same page as at the end, without the clock.
    state.ended = true;
    hangUp();
    $("#ended-duration").closest("p").hidden = true;
    showView("ended");
    return;
  }
  hangUp();
  $("#refused-message").textContent = frame?.message || REFUSAL_TEXT[code] || "You cannot enter this room now.";
  showView("refused");
}

function hangUp() {
  dropPeers();
  quality.stop();
  stopMedia();
}

// --- peers ------------------------------------------------------------------------------------------
function ensurePeer(id) {
  if (peers.has(id) || !state.peer || id === state.peer || state.ended || state.left) return;
  let peer = null;
  const signal = signalling.open(id, (data) => peer?.receive(data));
  peer = new Peer({
    id,
    polite: state.peer > id,
    iceServers,
    signal,
    tracks: outgoingTracks(),
    outStream,
    onTrack: (stream) => playRemote(id, stream),
    onState: (link) => {
      state.links[id] = link;
      renderTile(id);
    },
  });
  peers.set(id, peer);
  pcs.set(id, peer.pc);
  state.links[id] = "connecting";
  renderTiles();
}

function dropPeer(id) {
  peers.get(id)?.close();
  peers.delete(id);
  pcs.delete(id);
  signalling?.forget(id);
  delete state.links[id];
  $(`.tile[data-peer="${id}"]`)?.remove();
  renderTiles();
}

function dropPeers() {
  for (const id of [...peers.keys()]) dropPeer(id);
}

// --- local media ------------------------------------------------------------------------------------
function gum(constraints) {
  return navigator.mediaDevices.getUserMedia(constraints);
}

async function startMedia() {
  if (!navigator.mediaDevices?.getUserMedia) {
    note("#media-note", "This browser cannot use a camera or microphone here. You can still watch, listen and chat.");
    media.settled = true;
    mediaChanged();
    return;
  }
  let stream = null;
  try {
    stream = await gum({ audio: AUDIO, video: VIDEO });
  } catch (first) {
    const blocked = first.name === "NotAllowedError";
    try {
      stream = await gum({ audio: AUDIO });
      note(
        "#media-note",
        blocked
          ? "Your camera is blocked, so you join with audio only. Allow the camera in the browser's site settings, then reload."
          : "No camera found (or it is in use by another app), so you join with audio only.",
      );
    } catch (_) {
      note(
        "#media-note",
        blocked
          ? "Camera and microphone are blocked. You can still watch, listen and chat; allow them in the browser's site settings and reload to be seen and heard."
          : "No camera or microphone found. You can still watch, listen and chat.",
      );
    }
  }
  if (state.ended || state.left) {
    stream?.getTracks().forEach((t) => t.stop());
    return;
  }
  media.audio = stream?.getAudioTracks()[0] ?? null;
  media.camera = stream?.getVideoTracks()[0] ?? null;
  if (media.audio) media.audio.enabled = state.audio;
  if (media.camera && !state.video) {
    media.camera.stop();
    media.camera = null;
  }
  media.settled = true;
  mediaChanged();
}

function stopMedia() {
  for (const kind of ["audio", "camera", "screen"]) {
    media[kind]?.stop();
    media[kind] = null;
  }
  showPreview();
}

function outgoingTracks() {
  return [media.audio, media.screen || media.camera].filter(Boolean);
}

function sendMedia() {
  if (!media.settled) return;
  const audio = Boolean(media.audio && state.audio);
  const video = Boolean((media.screen || (media.camera && state.video)) && !state.audioOnly);
  const now = `${audio}/${video}`;
  if (now !== sentMedia && send({ type: "media", audio, video })) sentMedia = now;
}

function mediaChanged() {
  for (const peer of peers.values()) {
    peer.setTrack("audio", media.audio);
    peer.setTrack("video", media.screen || media.camera);
  }
  showPreview();
  renderControls();
  sendMedia();
}

function toggleMute() {
  if (!media.audio) return;
  state.audio = !state.audio;
  media.audio.enabled = state.audio; // no renegotiation: the track sends silence
  renderControls();
  sendMedia();
}

async function toggleCamera() {
  state.video = !state.video;
  if (!state.video) {
    // Stop the camera itself (its light goes off), not just its frames.
    media.camera?.stop();
    media.camera = null;
  } else if (!media.camera) {
    try {
      media.camera = (await gum({ video: VIDEO })).getVideoTracks()[0];
    } catch (_) {
      state.video = false;
      toast("The camera could not be started. Check that no other app is using it.", "warning");
    }
  }
  mediaChanged();
}

async function toggleShare() {
  if (media.screen) {
    stopShare();
    return;
  }
  let display;
  try {
    display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err.name !== "NotAllowedError") toast("The screen could not be shared.", "warning");
    return;
  }
  media.screen = display.getVideoTracks()[0];
  media.screen.contentHint = "detail"; // text stays sharp rather than motion smooth
  media.screen.addEventListener("ended", stopShare); // the browser's own "Stop sharing"
  mediaChanged();
}

function stopShare() {
  if (!media.screen) return;
  media.screen.stop();
  media.screen = null;
  mediaChanged(); // back to the camera (replaceTrack), or to no video
}

function showPreview() {
  const track = media.screen || media.camera;
  for (const [videoId, offId] of [
    ["#preview", "#preview-off"],
    ["#self-video", "#self-off"],
  ]) {
    const video = $(videoId);
    if (track) {
      if (video.srcObject?.getVideoTracks()[0] !== track) video.srcObject = new MediaStream([track]);
      video.play().catch(() => {});
    } else {
      video.srcObject = null;
    }
    video.classList.toggle("is-screen", Boolean(media.screen));
    $(offId).hidden = Boolean(track);
  }
}

// --- remote media -----------------------------------------------------------------------------------
function tileFor(id) {
  let tile = $(`.tile[data-peer="${id}"]`);
  if (tile) return tile;
  tile = $("#tile-template").content.firstElementChild.cloneNode(true);
  tile.dataset.peer = id;
  tile.querySelector("[data-action=sound]").addEventListener("click", (event) => {
    const video = tile.querySelector("video");
    video.muted = false;
    video.play().catch(() => {});
    event.currentTarget.hidden = true;
  });
  $("#remote-tiles").append(tile);
  return tile;
}

function playRemote(id, stream) {
  const video = tileFor(id).querySelector("video");
  if (video.srcObject !== stream) video.srcObject = stream;
  video.play().catch((err) => {
    if (err.name !== "NotAllowedError") return; // interrupted by a newer load: that one plays
    // The browser wants a tap before playing sound: play muted and offer the sound.
    video.muted = true;
    video.play().catch(() => {});
    $(`.tile[data-peer="${id}"] [data-action=sound]`).hidden = false;
  });
}

function renderTiles() {
  for (const id of peers.keys()) renderTile(id);
  const count = $$("#remote-tiles .tile").length;
  $("#remote-tiles").dataset.count = String(count);
  const mentorHere = [...state.members.values()].some((m) => m.role === "mentor");
  const alone = $("#call-alone");
  alone.hidden = count > 0;
  alone.textContent =
    state.role === "learner" && !mentorHere ? "Waiting for the mentor to join…" : "Waiting for the others to join…";
}

function renderTile(id) {
  if (!peers.has(id)) return;
  const tile = tileFor(id);
  const member = state.members.get(id);
  const link = state.links[id] || "connecting";
  tile.dataset.link = link;
  tile.querySelector("[data-name]").textContent = member ? member.name : "Joining…";
  tile.querySelector("[data-initials]").textContent = initials(member?.name);
  tile.querySelector("[data-muted]").hidden = !member || member.audio !== false;
  tile.querySelector("[data-video-off]").hidden = !member || member.video !== false;
  const overlay = tile.querySelector("[data-overlay]");
  overlay.hidden = link === "connected";
  overlay.querySelector("[data-overlay-text]").textContent = {
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    failed: "The connection was lost.",
  }[link];
  overlay.querySelector("[data-action=rejoin]").hidden = link !== "failed";
}

function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const hours = Math.floor(s / 3600);
  const minutes = Math.round((s % 3600) / 60);
  return hours ? `${hours} h ${minutes} min` : `${minutes} min`;
}

function initials(name) {
  return (name || "?")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join("");
}

// --- the clock ----------------------------------------------------------------------------------------
function setTimer({ elapsed, running }) {
  state.timer = { elapsed, running, at: performance.now() };
  renderTimer();
}

function elapsedNow() {
  const { elapsed, running, at } = state.timer;
  return elapsed + (running ? (performance.now() - at) / 1000 : 0);
}

function clock(seconds) {
  const s = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}

function renderTimer() {
  const timer = $("#call-timer");
  timer.textContent = clock(elapsedNow());
  timer.dataset.running = String(state.timer.running);
  $("#call-paused").hidden = state.timer.running;
}

// --- lobby and controls -------------------------------------------------------------------------------
function renderMembers() {
  const list = $("#lobby-members");
  const everyone = [...(state.me ? [{ ...state.me, ready: state.ready, self: true }] : []), ...state.members.values()];
  const template = $("#member-template").content.firstElementChild;
  list.replaceChildren(
    ...everyone.map((member) => {
      const row = template.cloneNode(true);
      row.querySelector("[data-initials]").textContent = initials(member.name);
      row.querySelector("[data-name]").textContent = member.self ? `${member.name} (you)` : member.name;
      row.querySelector("[data-role]").textContent = member.role === "mentor" ? "Mentor" : "Learner";
      const ready = row.querySelector("[data-ready]");
      ready.textContent = member.ready ? "Ready" : "Not ready yet";
      ready.classList.toggle("chip-confirmed", Boolean(member.ready));
      return row;
    }),
  );
  const mentor = [...state.members.values()].find((m) => m.role === "mentor");
  const away = $("#mentor-away");
  if (away) away.hidden = Boolean(mentor);
  renderTiles();
}

function roomOpen() {
  const now = Date.now();
  return now >= Date.parse(state.session.opens_at) && now < Date.parse(state.session.closes_at);
}

function renderGoLive() {
  const button = $("#go-live");
  if (!button) return;
  const open = roomOpen();
  if (!button.dataset.pending) button.disabled = !open || !state.peer;
  // Only our own hint is cleared here: a refusal from the server stays until the next try.
  const closedText = "You can go live once the room opens.";
  if (!open) note("#go-live-note", closedText);
  else if ($("#go-live-note").textContent === closedText) note("#go-live-note", "");
}

function renderControls() {
  for (const button of $$("[data-action=mute]")) {
    button.disabled = !media.audio;
    button.classList.toggle("is-off", !state.audio || !media.audio);
    button.querySelector("[data-label]").textContent = state.audio ? "Mute" : "Unmute";
  }
  for (const button of $$("[data-action=camera]")) {
    const on = Boolean(media.camera);
    button.classList.toggle("is-off", !on);
    button.querySelector("[data-label]").textContent = on ? "Stop video" : "Start video";
  }
  for (const button of $$("[data-action=share]")) {
    button.classList.toggle("is-on", Boolean(media.screen));
    button.querySelector("[data-label]").textContent = media.screen ? "Stop sharing" : "Share screen";
  }
  $("#ready-toggle").setAttribute("aria-pressed", String(state.ready));
}

function showQuality({ worst, audioOnly }) {
  state.quality = worst;
  const box = $("#call-quality");
  box.dataset.grade = worst;
  box.querySelector("[data-label]").textContent = {
    good: "Good connection",
    fair: "Fair connection",
    poor: "Poor connection",
    "very-poor": "Very poor connection",
  }[worst];
  if (audioOnly !== state.audioOnly) {
    state.audioOnly = audioOnly;
    toast(
      audioOnly
        ? "Your connection is very weak, so your video is paused; audio continues."
        : "Your connection recovered: your video is back on.",
      audioOnly ? "warning" : "success",
    );
    sendMedia();
  }
}

// --- small helpers ----------------------------------------------------------------------------------
function note(selector, text) {
  const box = $(selector);
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}

function status(text) {
  note("#call-status", text);
  note("#lobby-status", text);
}

// The page's toast region (base.html); app.js closes them on click.
function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box || !text) return;
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", "status");
  const span = document.createElement("span");
  span.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  item.append(span, close);
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

// --- wiring -----------------------------------------------------------------------------------------
const nameOf = (user) =>
  [...state.members.values(), state.me].find((m) => m && m.user === user)?.name ?? "someone";
const panels = new Panels($("#room-panel"), { send, me: config.me.user, nameOf });
const board = new Board($("#board"), {
  send,
  me: config.me.user,
  colour: () => $("input[name=pen-colour]:checked")?.value ?? "#151515",
  width: () => Number($("input[name=pen-width]:checked")?.value ?? 3),
});
const quality = new Quality(peers, showQuality);

window.peerlearnRoom = {
  peers: pcs,
  state,
  get strokes() {
    return board.strokes;
  },
};

const ACTIONS = {
  mute: toggleMute,
  camera: toggleCamera,
  share: toggleShare,
  ready() {
    state.ready = !state.ready;
    send({ type: "ready", ready: state.ready });
    renderControls();
    renderMembers();
  },
  "go-live"(button) {
    button.disabled = true;
    button.dataset.pending = "1";
    note("#go-live-note", "Starting…");
    if (!send({ type: "go_live" })) button.disabled = false;
    setTimeout(() => delete button.dataset.pending, 5000);
  },
  end() {
    $("#end-dialog").showModal();
  },
  leave,
  rejoin,
  "come-back": comeBack,
  "clear-board"() {
    send({ type: "clear_board" });
  },
};

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  const action = button && ACTIONS[button.dataset.action];
  if (action) action(button);
});
$("#end-dialog").addEventListener("close", (event) => {
  if (event.target.returnValue === "end") send({ type: "end" });
});
if (!navigator.mediaDevices?.getDisplayMedia) for (const b of $$("[data-action=share]")) b.hidden = true;

setInterval(() => {
  renderTimer();
  if (state.view === "lobby") renderGoLive();
}, 1000);

renderControls();
renderMembers();
showView("connecting");
startMedia();
connect();
