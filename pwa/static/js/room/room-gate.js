// The "room opens at…" page: count down, then reload so the server lets us in. The server
// decides; this clock only says when to ask. A device clock running fast would make it ask too
// early and get this page again, so a second reload within a short while waits longer.

const box = document.querySelector("[data-opens-at]");
const opensAt = box ? Date.parse(box.dataset.opensAt) : NaN;
const RETRY_MS = 15000;

function format(seconds) {
  const pad = (n) => String(n).padStart(2, "0");
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${pad(minutes)} min`;
  return `${minutes}:${pad(seconds % 60)}`;
}

if (box && Number.isFinite(opensAt)) {
  const out = box.querySelector("[data-countdown]");
  const key = `room-gate-reloaded:${location.pathname}`;
  const lastReload = Number(sessionStorage.getItem(key) || 0);
  const earliest = Math.max(opensAt, lastReload + RETRY_MS);
  box.hidden = false;
  let timer = null;
  const tick = () => {
    const left = Math.ceil((earliest - Date.now()) / 1000);
    if (left > 0) {
      out.textContent = format(left);
      return;
    }
    clearInterval(timer);
    out.textContent = "now";
    sessionStorage.setItem(key, String(Date.now()));
    location.reload();
  };
  timer = setInterval(tick, 1000);
  tick();
}
