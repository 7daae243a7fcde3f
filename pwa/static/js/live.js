// Live updates for signed-in pages: one WebSocket to /ws/updates/ carrying the events the
// server publishes after each commit. Reconnects with backoff; shows a toast per event.
// app.js passes its showToast in: importing app.js here would load a second copy of it
// (the page loads the fingerprinted file name, this module would ask for the plain one).

const MESSAGES = {
  "booking.created": "Booking updated.",
  "booking.confirmed": "A seat was confirmed.",
  "booking.cancelled": "A booking was cancelled.",
  "session.rescheduled": "A session you are in was rescheduled.",
  "session.cancelled": "A session you booked was cancelled. You'll get a full refund of what you paid.",
  "session.published": "A mentor you follow published a new session.",
  "waitlist.offered": "A seat opened up for you! Take it before the hold runs out.",
  "request.created": "You have a new session request.",
  "request.accepted": "Your request was accepted.",
  "request.countered": "The mentor proposed another time or price.",
  "request.declined": "A request was declined.",
  "request.expired": "A request expired.",
  "review.created": "You received a new review.",
};

let delay = 1000;

let showToast = () => {};

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/updates/`);
  socket.addEventListener("open", () => {
    delay = 1000;
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (message.type !== "event") return;
    const text = MESSAGES[message.event];
    if (text) showToast(text, "info");
    document.dispatchEvent(new CustomEvent("peerlearn:event", { detail: message }));
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) return; // signed out: do not retry
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  });
}

export function start(toast) {
  showToast = toast;
  if ("WebSocket" in window) connect();
}
