// Checkout and the held booking's page: the seat hold's countdown, the Pay button while offline,
// and the live "Confirmed" when the payment webhook lands (live.js re-dispatches every event on
// the updates socket as `peerlearn:event`). The server decides everything; this only shows it.

const root = document.querySelector("[data-live-booking]");
const show = (selector, visible) => {
  for (const el of document.querySelectorAll(selector)) el.hidden = !visible;
};

// --- the hold's countdown ------------------------------------------------------------------------
// The server's clock, not the device's: the page carries the server's "now", so a phone whose
// clock is a few minutes off still counts down to the real end of the hold.
const timerBox = document.querySelector("[data-hold-expires]");
let timer = null;
let expired = false;

function stopCountdown() {
  clearInterval(timer);
  timer = null;
}

function expire(clock, spoken) {
  stopCountdown();
  clock.textContent = "0:00";
  spoken.textContent = "The hold ran out. The seat was released.";
  show("[data-when-held]", false);
  show("[data-when-expired]", true);
  expired = true;
  followConnection();
}

function startCountdown() {
  const expiresAt = Date.parse(timerBox.dataset.holdExpires);
  const offset = Date.parse(timerBox.dataset.serverNow) - Date.now();
  const clock = timerBox.querySelector("[data-countdown-clock]");
  const spoken = timerBox.querySelector("[data-countdown-minutes]");
  if (!Number.isFinite(expiresAt) || !Number.isFinite(offset) || !clock || !spoken) return;
  let lastMinutes = null;
  const tick = () => {
    const seconds = Math.ceil((expiresAt - (Date.now() + offset)) / 1000);
    if (seconds <= 0) {
      expire(clock, spoken);
      return;
    }
    const minutes = Math.floor(seconds / 60);
    clock.textContent = `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
    // Screen readers hear it once a minute (polite), not every second.
    const wholeMinutes = Math.ceil(seconds / 60);
    if (wholeMinutes !== lastMinutes) {
      lastMinutes = wholeMinutes;
      spoken.textContent = `${wholeMinutes} minute${wholeMinutes === 1 ? "" : "s"} left to pay.`;
    }
  };
  tick();
  timer = setInterval(tick, 1000);
}

// --- offline: payments need a connection; the held booking (the intent) stays ---------------------
function followConnection() {
  const online = navigator.onLine;
  show("[data-offline-note]", !online && !expired);
  for (const button of document.querySelectorAll("[data-needs-network]")) button.disabled = !online || expired;
}

// --- confirmed live ------------------------------------------------------------------------------
function confirmed() {
  stopCountdown();
  show("[data-when-held]", false);
  show("[data-when-expired]", false);
  show("[data-when-confirmed]", true);
  show("[data-hold-expires]", false);
  for (const chip of document.querySelectorAll("[data-booking-chip]")) {
    chip.className = "chip chip-confirmed";
    chip.textContent = "Confirmed";
  }
}

if (root) {
  document.addEventListener("peerlearn:event", (event) => {
    const message = event.detail || {};
    if (message.event === "booking.confirmed" && String(message.data?.booking) === root.dataset.liveBooking) {
      confirmed();
    }
  });
}

if (timerBox) startCountdown();
followConnection();
addEventListener("online", followConnection);
addEventListener("offline", followConnection);

// The outcome (?payment=…) is shown once; a reload or a later visit should not repeat it.
const url = new URL(location.href);
if (url.searchParams.has("payment")) {
  url.searchParams.delete("payment");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}
