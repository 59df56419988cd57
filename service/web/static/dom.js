// Building DOM from data: values go in as text nodes, never as HTML.

/** An element with attributes (strings; `text` sets its textContent) and children (nodes or text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Put `text` in `node` and show it; empty text hides it. */
export function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/** Move the keyboard focus to `node` (a heading with tabindex="-1", a button) and bring it into view. */
export function focus(node) {
  node.focus({ preventScroll: true });
  node.scrollIntoView({ block: "nearest" });
}
