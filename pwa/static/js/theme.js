// Runs in <head> before the first paint: turns the "system" choice into light or dark, so the
// stylesheet needs one dark palette only and the page never flashes the wrong colours.
(function () {
  var root = document.documentElement;
  var stored = root.hasAttribute("data-signed-in") ? null : localStorage.getItem("theme");
  var media = matchMedia("(prefers-color-scheme: dark)");
  root.dataset.themeChoice = stored || root.dataset.theme || "system";
  function apply() {
    var choice = root.dataset.themeChoice;
    root.dataset.theme = choice === "light" || choice === "dark" ? choice : media.matches ? "dark" : "light";
  }
  apply();
  media.addEventListener("change", apply);
})();
