// Weekly hours editor: "Add a window" copies a day's last row with the next index. Without
// JavaScript every day already offers a spare empty row, so this only saves a round trip.
const MAX_ROWS = 6;

for (const button of document.querySelectorAll("[data-add-window]")) {
  button.hidden = false;
  button.addEventListener("click", () => {
    const day = button.closest("[data-day]");
    const rows = day.querySelectorAll("[data-window]");
    const copy = rows[rows.length - 1].cloneNode(true);
    const index = rows.length;
    copy.classList.remove("has-error");
    copy.querySelector(".field-error")?.remove();
    for (const el of copy.querySelectorAll("input, label")) {
      for (const attr of ["name", "id", "for"]) {
        const value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/_(\d)_(start|end)$/, `_${index}_$2`));
      }
      if (el.tagName === "LABEL") el.textContent = el.textContent.replace(/window \d+/, `window ${index + 1}`);
      if (el.tagName === "INPUT") el.value = "";
    }
    button.before(copy);
    copy.querySelector("input").focus();
    if (index + 1 >= MAX_ROWS) button.remove();
  });
}
