// The page's side of the installable app: registers /sw.js, tells it who is signed in, offers
// "update available" (never swaps silently), shows an install button when the browser offers
// one, and removes this user's offline data at sign-out.
// app.js imports this module and passes its showToast in (importing app.js here would load a
// second copy of it under its plain name).

const root = document.documentElement;
const sw = navigator.serviceWorker;

// Listening at module evaluation: app.js imports this module statically, so this runs before
// the load event, after which Chromium fires "beforeinstallprompt".
let installPrompt = null;
addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault(); // we show our own button instead of the mini-infobar
  installPrompt = event;
  installButton().hidden = false;
});
addEventListener("appinstalled", () => {
  installPrompt = null;
  installButton().hidden = true;
});

export function start(showToast) {
  wipeAtSignOut(showToast);
  offerRetry();
  if (!sw) return;
  sw.register("/sw.js", { scope: "/" })
    .then((registration) => {
      tellWhoIsSignedIn();
      watchForUpdates(registration);
      stillSubscribed(registration);
    })
    .catch((error) => console.warn("Offline support is not available:", error));
}

// The server forgets a push subscription it has not heard of for 60 days (a device gone). An app
// in use says it still has one, at most once a day; a subscription the browser rotated is the
// one getSubscription() returns, so this also saves the new one.
const DAY_MS = 24 * 60 * 60 * 1000;

function stillSubscribed(registration) {
  const id = root.dataset.userId;
  if (!id || !registration.pushManager || !("Notification" in window) || Notification.permission !== "granted") return;
  const key = `peerlearn-push-seen-${id}`;
  if (Date.now() - Number(localStorage.getItem(key) || 0) < DAY_MS) return;
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] ?? "";
  registration.pushManager
    .getSubscription()
    .then((subscription) =>
      subscription &&
      fetch("/api/push/subscriptions/", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(csrf) },
        body: JSON.stringify(subscription.toJSON()),
      }).then((response) => response.ok && localStorage.setItem(key, String(Date.now()))),
    )
    .catch(() => {}); // offline or refused: tomorrow's visit tries again
}

function tellWhoIsSignedIn() {
  const id = root.dataset.userId;
  if (id) sw.ready.then((registration) => registration.active?.postMessage({ type: "user", id }));
}

// --- Update available ------------------------------------------------------------------------
let updateAccepted = false;

function watchForUpdates(registration) {
  if (registration.waiting && sw.controller) offerUpdate(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      // Without a controller this is the first install, not an update.
      if (worker.state === "installed" && sw.controller) offerUpdate(worker);
    });
  });
  sw.addEventListener("controllerchange", () => {
    if (updateAccepted) {
      updateAccepted = false; // reload once
      location.reload();
    } else {
      offerUpdate(null); // another tab accepted it: this one reloads when its user says so
    }
  });
  // An app left open for days never navigates, which is when browsers look for a new worker.
  setInterval(() => registration.update().catch(() => undefined), 60 * 60 * 1000);
}

function offerUpdate(worker) {
  if (document.querySelector("[data-update-toast]")) return;
  const toast = document.createElement("div");
  toast.className = "toast toast-info toast-update";
  toast.setAttribute("role", "status");
  toast.dataset.updateToast = "";
  const text = document.createElement("span");
  text.textContent = "A new version of PeerLearn is ready";
  const reload = document.createElement("button");
  reload.type = "button";
  reload.className = "btn btn-primary";
  reload.textContent = "Reload";
  reload.addEventListener("click", () => {
    reload.disabled = true;
    if (worker) {
      updateAccepted = true;
      worker.postMessage({ type: "skip-waiting" });
    } else {
      location.reload();
    }
  });
  const later = document.createElement("button"); // app.js closes .toast-close toasts
  later.type = "button";
  later.className = "toast-close";
  later.setAttribute("aria-label", "Not now");
  later.textContent = "×";
  toast.append(text, reload, later);
  document.getElementById("toasts")?.append(toast);
}

// --- Install button ----------------------------------------------------------------------------
const INSTALL_ICON =
  "M3 16.5v2.25A2.25 2.25 0 0 0 5.25 21h13.5A2.25 2.25 0 0 0 21 18.75V16.5M16.5 12 12 16.5m0 0L7.5 12m4.5 4.5V3";

let button = null;

function installButton() {
  if (button) return button;
  button = document.createElement("button");
  button.type = "button";
  button.className = "btn btn-secondary install-button";
  button.hidden = true;
  button.dataset.install = "";
  button.title = "Install PeerLearn on this device";
  // Heroicons 24/outline "arrow-down-tray" (MIT), like the vendored sprite.
  button.innerHTML =
    '<svg class="icon" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
    `stroke-width="1.5" aria-hidden="true" focusable="false"><path stroke-linecap="round" stroke-linejoin="round" ` +
    `d="${INSTALL_ICON}"/></svg><span>Install app</span>`;
  button.addEventListener("click", async () => {
    if (!installPrompt) return;
    const offered = installPrompt;
    installPrompt = null;
    button.hidden = true;
    offered.prompt();
    await offered.userChoice; // accepted: "appinstalled" follows; dismissed: the browser may offer again
  });
  document.querySelector(".header-actions")?.prepend(button);
  return button;
}

// --- Sign-out ----------------------------------------------------------------------------------
// Any form posting to /logout/ (sidebar, phone top bar, the sign-out page). The worker also
// wipes the caches when it sees the sign-out succeed, and the response clears the HTTP cache.
function wipeAtSignOut(showToast) {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (new URL(form.action, location.href).pathname !== "/logout/") return;
    event.preventDefault();
    if (!navigator.onLine) {
      showToast("Signing out needs a connection. Your offline data stays until you can.", "warning");
      return;
    }
    signOut(form);
  });
}

async function signOut(form) {
  if (root.hasAttribute("data-user-id")) {
    const unsent = await import("./offline.js").then((offline) => offline.flushBeforeSignOut()).catch(() => 0);
    const lose = `${unsent} change${unsent === 1 ? "" : "s"} made offline ${unsent === 1 ? "has" : "have"} not reached PeerLearn yet`;
    if (unsent && !confirm(`${lose}. Signing out deletes ${unsent === 1 ? "it" : "them"} from this device. Sign out anyway?`)) {
      return;
    }
  }
  forgetThisDevice().finally(() => form.submit()); // submit() fires no second "submit" event
}

async function forgetThisDevice() {
  sw?.controller?.postMessage({ type: "logout" });
  const work = Promise.all([deleteUserCaches(), deleteDatabases()]);
  // Never keep someone from signing out: a blocked database deletion finishes in the background.
  await Promise.race([work, new Promise((resolve) => setTimeout(resolve, 1500))]);
}

async function deleteUserCaches() {
  if (!("caches" in window)) return;
  const names = await caches.keys();
  await Promise.all(names.filter((name) => /^(pages|api)-/.test(name)).map((name) => caches.delete(name)));
}

async function deleteDatabases() {
  if (!("indexedDB" in window)) return;
  const names = indexedDB.databases
    ? (await indexedDB.databases()).map((db) => db.name).filter((name) => name?.startsWith("peerlearn-"))
    : [`peerlearn-${root.dataset.userId}`];
  await Promise.all(
    names.map(
      (name) =>
        new Promise((resolve) => {
          const request = indexedDB.deleteDatabase(name);
          request.onsuccess = request.onerror = request.onblocked = resolve;
        }),
    ),
  );
}

// --- Offline page ------------------------------------------------------------------------------
function offerRetry() {
  const retry = document.querySelector("[data-retry]");
  if (!retry) return;
  retry.addEventListener("click", () => location.reload());
  if (location.pathname === "/offline/") return; // opened on purpose, not standing in for a page
  // Standing in for a page the worker could not fetch: try again once the connection is back
  // (networks take a moment to settle after "online"), and now and then while the browser
  // believes it is online (the server restarting, a captive portal).
  addEventListener("online", () => setTimeout(() => location.reload(), 500));
  setInterval(() => navigator.onLine && location.reload(), 15000);
}
