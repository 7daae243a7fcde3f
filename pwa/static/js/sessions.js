// Session list: infinite scroll over the server's own pages. The "Load more" link works
// without JavaScript (it opens the next page); with it, the next cards are fetched as an HTML
// fragment when the link nears the viewport, or when it is clicked.
// No import of app.js: a second copy under another URL would rerun its handlers.

const list = document.querySelector("[data-results]");
const status = document.querySelector("[data-results-status]");
let more = document.querySelector("[data-more]");
let loading = false;
let observer = null;

const SKELETON = `<div class="card session-card">
  <span class="skeleton skeleton-chip"></span><span class="skeleton skeleton-title"></span>
  <span class="skeleton skeleton-line"></span><span class="skeleton skeleton-line short"></span></div>`;

function skeletons(count) {
  const items = Array.from({ length: count }, () => {
    const item = document.createElement("li");
    item.className = "skeleton-item";
    item.setAttribute("aria-hidden", "true");
    item.innerHTML = SKELETON;
    return item;
  });
  list.append(...items);
  return items;
}

function finish() {
  observer?.disconnect();
  more?.remove();
  more = null;
}

async function loadMore({ moveFocus = false } = {}) {
  if (loading || !more) return;
  loading = true;
  const url = new URL(more.href, location.href);
  url.searchParams.set("fragment", "1");
  more.setAttribute("aria-disabled", "true");
  list.setAttribute("aria-busy", "true");
  const placeholders = skeletons(3);
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    const page = document.createElement("template");
    page.innerHTML = await response.text();
    if (!response.ok) {
      throw new Error(page.content.querySelector("[data-error]")?.textContent || "Could not load more sessions.");
    }
    const items = [...page.content.querySelectorAll("[data-result]")];
    placeholders.forEach((p) => p.remove());
    list.append(...items);
    const next = page.content.querySelector("[data-more]");
    if (next) {
      more.href = next.getAttribute("href");
      more.removeAttribute("aria-disabled");
    } else {
      finish();
    }
    const count = `${items.length} more session${items.length === 1 ? "" : "s"} loaded.`;
    status.textContent = more ? count : `${count} That's every matching session.`;
    if (moveFocus) items[0]?.querySelector("a")?.focus();
    // Still in view after a short page? Observing again reports the current state.
    if (more && observer) {
      observer.unobserve(more);
      observer.observe(more);
    }
  } catch (error) {
    more?.removeAttribute("aria-disabled");
    observer?.disconnect(); // no retry loop: the button stays for a manual try
    status.textContent =
      error instanceof TypeError
        ? "You seem to be offline. Try again when you are back online."
        : error.message;
  } finally {
    placeholders.forEach((p) => p.remove());
    list.removeAttribute("aria-busy");
    loading = false;
  }
}

if (list && more) {
  more.addEventListener("click", (event) => {
    event.preventDefault();
    loadMore({ moveFocus: true });
  });
  if ("IntersectionObserver" in window) {
    observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore();
    }, { rootMargin: "0px 0px 600px 0px" });
    observer.observe(more);
  }
}
