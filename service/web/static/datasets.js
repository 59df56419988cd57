// The datasets list: the server's first page (when the API is open) or the API's, then more pages
// on request, with what was just uploaded at the top.

import { ApiError, DATASETS, getJson } from "./api.js";
import { el, focus, show } from "./dom.js";
import { formatSize, formatTime } from "./format.js";

/** The page's own link to a dataset, and to the tables of its records at `root` (works without the
 * script too). */
export function pageLink(id, root = "") {
  const query = new URLSearchParams({ dataset: id });
  if (root) query.set("root", root);
  return `?${query}`;
}

/** One row of the datasets table, as the server renders it. */
function datasetRow(dataset) {
  return el(
    "tr",
    { "data-id": dataset.id },
    el("td", {}, el("a", { href: pageLink(dataset.id), "data-open": dataset.id, text: dataset.filename })),
    el("td", { class: "number", text: formatSize(dataset.size) }),
    el("td", { text: dataset.format || "" }),
    el("td", {}, el("time", { datetime: dataset.created_at, text: formatTime(dataset.created_at) })),
  );
}

function pageUrl(size, cursor) {
  const query = new URLSearchParams({ limit: String(size) });
  if (cursor) query.set("cursor", cursor);
  return `${DATASETS}?${query}`;
}

export function setUpDatasetList({ table, message, empty, nextLink, more, signIn, onOpen, announce }) {
  const body = table.tBodies[0];
  const size = Number(table.dataset.pageSize);
  let nextCursor = table.dataset.nextCursor || null;

  function refreshControls() {
    more.hidden = !nextCursor;
    empty.hidden = body.rows.length > 0 || !message.hidden;
  }

  async function loadPage(cursor) {
    show(message, "");
    signIn.hidden = true;
    try {
      const page = await getJson(pageUrl(size, cursor));
      const added = page.items.filter((dataset) => !row(dataset.id)).map(datasetRow);
      body.append(...added);
      nextCursor = page.next_cursor;
      if (cursor) {
        announce(`${added.length} more datasets shown.`);
        if (added.length) focus(added[0].querySelector("a"));
      }
    } catch (error) {
      show(message, error.message);
      signIn.hidden = !(error instanceof ApiError && error.status === 401);
    }
    refreshControls();
  }

  function row(id) {
    return body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  }

  /** Start over from the first page (after a token is entered or forgotten). */
  function reload() {
    body.replaceChildren();
    nextCursor = null;
    return loadPage(null);
  }

  // The "Next page" link is for pages without the script; with it, more rows join this table.
  if (nextLink) nextLink.remove();
  more.addEventListener("click", () => loadPage(nextCursor));
  signIn.addEventListener("click", reload);
  body.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-open]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    onOpen(link.dataset.open);
  });

  if (table.dataset.rendered === "true") refreshControls();
  else loadPage(null);

  return {
    reload,
    /** Empty the list until a token is entered (after the token is forgotten). */
    lock(text) {
      body.replaceChildren();
      nextCursor = null;
      show(message, text);
      signIn.hidden = false;
      refreshControls();
    },
    /** A dataset just uploaded: at the top, marked new, and scrolled into view. */
    add(dataset) {
      row(dataset.id)?.remove();
      const added = datasetRow(dataset);
      added.classList.add("new");
      body.prepend(added);
      refreshControls();
      added.scrollIntoView({ block: "nearest" });
    },
    remove(id) {
      row(id)?.remove();
      refreshControls();
    },
    markCurrent(id) {
      for (const each of body.rows) each.classList.toggle("current", each.dataset.id === id);
    },
  };
}
