// Live updates: one WebSocket to /ws/updates/ carrying the events the server publishes after
// each commit. A signed-in user gets their own events as toasts; anyone gets the free seats of
// the sessions on the page ([data-seats-for] elements), which the page "watches". Reconnects
// with backoff.
// Importing app.js here would load a second copy of it (the page loads the fingerprinted file
// name, this module would ask for the plain one); dom.js is a shared plain-named module.

import { el } from "./dom.js";

// Every event about a user's own bookings, requests and money now arrives as a notification
// ("notification.created", with its own title, body and link), so there is one toast per change;
// the bell and the notifications page (notifications.js) follow the same frames.
function notificationToast(n) {
  const box = document.getElementById("toasts");
  // Already on the page it links to (say, the room a reminder opens): the page shows it.
  if (!box || (n.url && n.url === location.pathname)) return;
  const text = el("span", {}, el("strong", {}, n.title), n.body ? el("span", { class: "toast-body" }, n.body) : null);
  const toast = el("div", { class: "toast toast-info toast-notification", role: "status" }, n.url ? el("a", { href: n.url, class: "toast-link" }, text) : text);
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  toast.append(close);
  box.append(toast);
  setTimeout(() => toast.remove(), 8000);
}

// Room buttons ([data-room-for], rendered by the room_button tag) follow the room: a "soon"
// button opens itself when the lobby opens, and "session.live" makes every one "Join now".
function setRoomPhase(button, phase) {
  button.dataset.roomPhase = phase;
  button.classList.remove("is-disabled", "btn-ghost", "btn-secondary", "btn-primary");
  button.removeAttribute("aria-disabled");
  button.removeAttribute("tabindex");
  const label = button.querySelector("svg") ? [button.querySelector("svg").cloneNode(true)] : [];
  if (phase === "live") {
    button.classList.add("btn-primary");
    button.replaceChildren(...label, " Join now");
  } else if (phase === "open") {
    button.classList.add("btn-secondary");
    button.replaceChildren(...label, ` ${button.dataset.labelLobby || "Enter the lobby"}`);
  } else if (phase === "closed") {
    button.remove();
  }
}

function followRooms(event) {
  const phase = { "session.live": "live", "session.completed": "closed", "session.cancelled": "closed" }[event.event];
  if (!phase) return;
  for (const button of document.querySelectorAll(`[data-room-for="${event.data.session}"]`)) setRoomPhase(button, phase);
}

for (const button of document.querySelectorAll('[data-room-phase="soon"][data-opens-at]')) {
  const wait = Date.parse(button.dataset.opensAt) - Date.now();
  // Timers longer than ~24 days overflow; nobody keeps a dashboard open that long anyway.
  if (wait < 2 ** 31 - 1) setTimeout(() => button.dataset.roomPhase === "soon" && setRoomPhase(button, "open"), Math.max(wait, 0));
}
document.addEventListener("click", (event) => {
  if (event.target.closest?.('[data-room-phase="soon"]')) event.preventDefault();
});

let delay = 1000;
let socket = null;

const MAX_WATCHED = 60; // the server's limit per socket

function watchedIds() {
  const ids = new Set();
  for (const el of document.querySelectorAll("[data-seats-for]")) ids.add(Number(el.dataset.seatsFor));
  return [...ids].filter((id) => id > 0).slice(-MAX_WATCHED); // the latest loaded are nearest the eye
}

function sendWatch() {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "watch", sessions: watchedIds() }));
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function seatsText(style, { seats_left: left, capacity, state }) {
  if (state === "cancelled") return "Cancelled";
  if (style === "booked") return `${capacity - left} of ${plural(capacity, "seat")} booked.`;
  if (left <= 0) return "Full";
  return style === "of" ? `${left} of ${capacity} left` : `${plural(left, "seat")} left`;
}

function showSeats(data) {
  for (const el of document.querySelectorAll(`[data-seats-for="${data.session}"]`)) {
    el.textContent = seatsText(el.dataset.seatsStyle, data);
  }
}

// Cards added later (infinite scroll) are watched too; one watch per burst of changes.
let rewatch = null;
const hasSeats = (node) =>
  node.nodeType === Node.ELEMENT_NODE && (node.matches("[data-seats-for]") || node.querySelector("[data-seats-for]"));
new MutationObserver((mutations) => {
  if (!mutations.some((m) => [...m.addedNodes].some(hasSeats))) return;
  clearTimeout(rewatch);
  rewatch = setTimeout(sendWatch, 300);
}).observe(document.body, { childList: true, subtree: true });

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/updates/`);
  socket.addEventListener("open", () => {
    delay = 1000;
    if (document.querySelector("[data-seats-for]")) sendWatch();
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (message.type !== "event") return;
    if (message.event === "session.seats") {
      showSeats(message.data);
      return;
    }
    followRooms(message);
    if (message.event === "notification.created") notificationToast(message.data);
    document.dispatchEvent(new CustomEvent("peerlearn:event", { detail: message }));
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) return; // credentials refused: retrying cannot help
    if (!navigator.onLine) {
      // No point knocking while offline: reconnect as soon as the connection returns.
      addEventListener("online", () => connect(), { once: true });
      return;
    }
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  });
}

// `toast` (app.js's showToast) is not needed any more: every toast this socket brings is a
// notification's, drawn with its link by notificationToast.
export function start() {
  if (!("WebSocket" in window)) return;
  if (navigator.onLine) connect();
  else addEventListener("online", () => connect(), { once: true });
}
