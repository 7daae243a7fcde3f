// el("a", {class: "btn", href}, "text", child): attributes by setAttribute, children appended
// as nodes or text (never parsed as markup), empty ones skipped. Shared by the offline modules.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
  return node;
}
