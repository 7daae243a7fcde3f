// App-wide behaviour for every page: theme, toasts, offline banner, timezone cookie,
// and the category tabs of the landing page. Small on purpose: it is precached on phones.

// A static import, so pwa.js listens for "beforeinstallprompt" before the page's load event
// (Chromium offers installation after it; a dynamic import could miss it).
import { start as startPwa } from "./pwa.js";

const root = document.documentElement;

// Theme: theme.js resolved the choice before paint. A signed-in user's choice belongs to their
// account (the server renders it), so it follows them across devices; visitors keep it here.
const signedIn = root.hasAttribute("data-signed-in");

function cookie(name) {
  return document.cookie.split("; ").find((c) => c.startsWith(`${name}=`))?.split("=")[1] ?? "";
}

function saveTheme(theme) {
  if (!signedIn) {
    localStorage.setItem("theme", theme);
    return;
  }
  fetch("/api/auth/me/", {
    method: "PATCH",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(cookie("csrftoken")) },
    body: JSON.stringify({ theme }),
  }).catch(() => showToast("Could not save your theme; it applies on this page only.", "warning"));
}

document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-theme-toggle]");
  if (toggle) {
    const next = root.dataset.theme === "dark" ? "light" : "dark";
    root.dataset.themeChoice = next;
    root.dataset.theme = next;
    saveTheme(next);
  }
  const close = event.target.closest(".toast-close");
  if (close) close.closest(".toast").remove();
  if (event.target.closest("[data-print]")) window.print(); // receipts; no inline handlers
});

// Toasts: server messages arrive in the markup; scripts call showToast().
export function showToast(text, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const toast = document.createElement("div");
  toast.className = `toast toast-${kind}`;
  toast.setAttribute("role", "status");
  const span = document.createElement("span");
  span.textContent = text;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "toast-close";
  button.setAttribute("aria-label", "Dismiss");
  button.textContent = "×";
  toast.append(span, button);
  box.append(toast);
  setTimeout(() => toast.remove(), 6000);
}
for (const toast of document.querySelectorAll("#toasts .toast")) {
  setTimeout(() => toast.remove(), 6000);
}

// Offline banner.
const banner = document.getElementById("offline-banner");
function updateOnline() {
  if (banner) banner.hidden = navigator.onLine;
}
addEventListener("online", updateOnline);
addEventListener("offline", updateOnline);
updateOnline();

// Anonymous visitors see times in their own zone too: the server reads this cookie.
try {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && !document.cookie.includes(`tz=${encodeURIComponent(tz)}`)) {
    document.cookie = `tz=${encodeURIComponent(tz)}; path=/; max-age=31536000; samesite=lax`;
  }
} catch (_) {
  /* very old browsers: the server's default zone is used */
}

// Landing category tabs filter the upcoming carousel without a reload.
const tabs = document.querySelectorAll(".tabs [data-filter]");
const list = document.querySelector("[data-filterable]");
for (const tab of tabs) {
  tab.addEventListener("click", () => {
    for (const t of tabs) t.setAttribute("aria-selected", String(t === tab));
    let shown = 0;
    for (const item of list?.children ?? []) {
      const match = tab.dataset.filter === "all" || item.dataset.domain === tab.dataset.filter;
      item.hidden = !match;
      if (match) shown += 1;
    }
    const empty = document.querySelector(".filter-empty");
    if (empty) empty.hidden = shown > 0;
  });
}

// Live updates: a signed-in user's own events, and for anyone the free seats of the sessions
// the page shows.
if (signedIn || document.querySelector("[data-seats-for]")) {
  import("./live.js").then((live) => live.start(showToast));
}

// Installable app: service worker, "update available", install button, sign-out clean-up.
startPwa(showToast);

// Offline store and outbox for signed-in users; offline, dashboards are drawn from the store.
if (signedIn) {
  import("./offline.js").then(async (offline) => {
    const db = await offline.start(showToast);
    if (db) (await import("./offline-views.js")).start(db);
  });
}
