// Sign-up wizard: validate fields as the user types (the server's own forms decide, through
// /register/<role>/validate/<step>/), show password strength, fill in the browser's timezone.

const form = document.querySelector("form[data-wizard]");
const validateUrl = form?.dataset.validateUrl;
const touched = new Set();
let timer = null;
let inFlight = null;

function fieldBox(name) {
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
}

function showErrors(errors) {
  for (const box of form.querySelectorAll("[data-field]")) {
    const name = box.dataset.field;
    if (!touched.has(name)) continue;
    const message = (errors[name] || []).join(" ");
    const slot = box.querySelector(".field-error");
    box.classList.toggle("has-error", Boolean(message));
    box.classList.toggle("is-valid", !message);
    if (slot) {
      slot.textContent = message;
      slot.hidden = !message;
    }
    for (const input of box.querySelectorAll("input, select, textarea")) {
      input.setAttribute("aria-invalid", String(Boolean(message)));
    }
  }
}

async function validate() {
  if (!validateUrl) return;
  inFlight?.abort();
  inFlight = new AbortController();
  const data = new FormData(form);
  // Files are checked when the step is submitted; do not upload them on every keystroke.
  for (const input of form.querySelectorAll("input[type=file]")) data.delete(input.name);
  try {
    const response = await fetch(validateUrl, { method: "POST", body: data, signal: inFlight.signal, credentials: "same-origin" });
    if (response.ok) showErrors((await response.json()).errors || {});
  } catch (error) {
    if (error.name !== "AbortError") console.debug("validation skipped", error);
  }
}

function schedule(event) {
  const box = event.target.closest("[data-field]");
  if (!box) return;
  touched.add(box.dataset.field);
  clearTimeout(timer);
  timer = setTimeout(validate, event.type === "input" ? 350 : 0);
}

// Strength is a hint; the server's password validators are what decide.
function strength(password) {
  let score = 0;
  if (password.length >= 10) score += 1;
  if (password.length >= 14) score += 1;
  if (/[a-z]/.test(password) && /[A-Z]/.test(password)) score += 1;
  if (/\d/.test(password)) score += 1;
  if (/[^A-Za-z0-9]/.test(password)) score += 1;
  return Math.min(score, 4);
}
const LABELS = ["Too weak", "Weak", "Fair", "Good", "Strong"];

if (form) {
  form.addEventListener("input", schedule);
  form.addEventListener("focusout", schedule);
  form.addEventListener("change", schedule);

  const password = form.querySelector('input[name="password"]');
  const bar = form.querySelector("[data-strength-bar]");
  const text = form.querySelector("[data-strength-text]");
  password?.addEventListener("input", () => {
    const score = password.value ? strength(password.value) : 0;
    bar.style.setProperty("--strength", `${(score / 4) * 100}%`);
    bar.dataset.score = String(score);
    text.textContent = password.value ? `Strength: ${LABELS[score]}` : "At least 10 characters, mixing letters with a number or symbol.";
  });
  form.querySelector("[data-reveal]")?.addEventListener("click", (event) => {
    const shown = password.type === "text";
    password.type = shown ? "password" : "text";
    event.currentTarget.setAttribute("aria-label", shown ? "Show password" : "Hide password");
  });

  const tz = form.querySelector("[data-timezone]");
  if (tz) {
    try {
      tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || tz.value;
    } catch (_) {
      /* keep the default */
    }
  }
}
