// "Push on this device" on the profile page. Permission is asked only from the user's own click
// on the switch, never on load (browsers ignore or penalise prompts nobody asked for). On: the
// service worker's push manager subscribes with the server's VAPID key and the subscription is
// saved through POST /api/push/subscriptions/; off: it is deleted there and unsubscribed here.
// The status line says which state the device is in: unsupported, blocked, on, off, or a failure.

const box = document.querySelector("[data-push-settings]");
const toggle = box?.querySelector("[data-push-toggle]");
const status = box?.querySelector("[data-push-status]");
const testButton = box?.querySelector("[data-push-test]");
const READY_TIMEOUT_MS = 5000;

function cookie(name) {
  return document.cookie.split("; ").find((c) => c.startsWith(`${name}=`))?.split("=")[1] ?? "";
}

function api(path, { method = "GET", body } = {}) {
  return fetch(path, {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(cookie("csrftoken")) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function say(text, state) {
  status.textContent = text;
  box.dataset.pushState = state;
}

const supported = () => window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

// `ready` never settles where no worker registered (a private window that refuses them, say).
function registration() {
  return Promise.race([navigator.serviceWorker.ready, new Promise((resolve) => setTimeout(resolve, READY_TIMEOUT_MS, null))]);
}

function keyBytes(base64url) {
  const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function show() {
  testButton.hidden = true;
  if (!supported()) {
    toggle.checked = false;
    toggle.disabled = true;
    say("This browser can't receive push notifications. You still get them under the bell, and by e-mail if you chose it above.", "unsupported");
    return;
  }
  if (Notification.permission === "denied") {
    toggle.checked = false;
    toggle.disabled = true;
    say("Notifications are blocked for PeerLearn in this browser. To get them, allow notifications in this site's settings (next to the address bar), then reload this page.", "denied");
    return;
  }
  const ready = await registration();
  if (!ready) {
    toggle.checked = false;
    toggle.disabled = true;
    say("Push needs PeerLearn's offline support, which is not running in this window. Reload the page to try again.", "unavailable");
    return;
  }
  const subscription = await ready.pushManager.getSubscription();
  const on = Boolean(subscription) && Notification.permission === "granted";
  toggle.checked = on;
  toggle.disabled = false;
  testButton.hidden = !on;
  say(on ? "On: this device gets push notifications, even when PeerLearn is closed." : "Off: this device gets no push notifications.", on ? "on" : "off");
}

async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission === "denied" ? "" : "You closed the question without answering. Turn the switch on to be asked again.";
  const response = await api("/api/push/config/");
  const config = response.ok ? await response.json() : {};
  if (!config.public_key) return "Push notifications are not set up on PeerLearn's server yet.";
  const ready = await registration();
  const subscription = await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(config.public_key) });
  const saved = await api("/api/push/subscriptions/", { method: "POST", body: subscription.toJSON() });
  if (!saved.ok) {
    await subscription.unsubscribe();
    return "PeerLearn could not save this device. Please try again.";
  }
  return "";
}

async function turnOff() {
  const ready = await registration();
  const subscription = await ready?.pushManager.getSubscription();
  if (!subscription) return "";
  // The server first: a subscription it still holds would keep being sent to.
  const removed = await api("/api/push/subscriptions/", { method: "DELETE", body: { endpoint: subscription.endpoint } });
  if (!removed.ok) return "PeerLearn could not turn push off for this device. Please try again.";
  await subscription.unsubscribe();
  return "";
}

async function onToggle() {
  const wanted = toggle.checked;
  if (!navigator.onLine) {
    toggle.checked = !wanted;
    say("Changing this needs a connection. Try again when you're back online.", "error");
    return;
  }
  toggle.disabled = true;
  say(wanted ? "Turning on…" : "Turning off…", "busy");
  let problem = "";
  try {
    problem = wanted ? await turnOn() : await turnOff();
  } catch (error) {
    problem = `This browser could not ${wanted ? "subscribe" : "unsubscribe"} (${error?.message || error}). Please try again later.`;
  }
  await show();
  if (problem) say(problem, "error");
}

async function sendTest() {
  testButton.disabled = true;
  try {
    const response = await api("/api/push/test/", { method: "POST" });
    if (response.status === 429) say("Tests are limited to a few a minute. Wait a moment and try again.", "error");
    else if (!response.ok) say("The test could not be sent. Please try again.", "error");
    else {
      const { devices, reached } = await response.json();
      say(`Test sent: ${reached} of ${devices} device${devices === 1 ? "" : "s"} took it. It should appear in a few seconds.`, "on");
    }
  } catch (_) {
    say("Sending a test needs a connection.", "error");
  } finally {
    testButton.disabled = false;
  }
}

if (box) {
  toggle.addEventListener("change", onToggle);
  testButton.addEventListener("click", sendTest);
  show().catch(() => say("Could not check push notifications on this device.", "error"));
}
