// One dataset: its details, downloads, tables with their first rows, and deleting it.

import { ApiError, DATASETS, getJson, send, storedToken, downloadWithToken } from "./api.js";
import { el, focus, show } from "./dom.js";
import { formatCell, formatSize, formatTime } from "./format.js";

export const PREVIEW_ROWS = 20;

function datasetPath(id) {
  return `${DATASETS}${encodeURIComponent(id)}/`;
}

/** `path` with the query parameters that have a value (an empty `root` is the whole document). */
function withQuery(path, parameters) {
  const query = new URLSearchParams(Object.entries(parameters).filter(([, value]) => value !== "")).toString();
  return query ? `${path}?${query}` : path;
}

function tablePath(id, name, root) {
  return withQuery(`${datasetPath(id)}tables/${encodeURIComponent(name)}/`, { limit: PREVIEW_ROWS, root });
}

function csvPath(id, name, root) {
  return withQuery(`${datasetPath(id)}csv/`, { table: name, root });
}

function infoList(dataset) {
  const entries = [
    ["Name", dataset.filename],
    ["Id", dataset.id],
    ["Size", `${formatSize(dataset.size)} (${dataset.size.toLocaleString("en")} bytes)`],
    ["Format", dataset.format],
    ["Created (UTC)", formatTime(dataset.created_at)],
  ];
  return entries
    .filter(([, value]) => value !== undefined && value !== null)
    .flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]);
}

function rowCount(count) {
  return `${count.toLocaleString("en")} ${count === 1 ? "row" : "rows"}`;
}

function cellClass(value) {
  if (value === null) return "null";
  return typeof value === "number" ? "number" : null;
}

/** The first rows of a table: a scrolling region with a sticky header row. */
function previewTable(preview) {
  const head = el("tr", {}, ...preview.columns.map((column) => el("th", { scope: "col", text: column })));
  const rows = preview.rows.map((values) =>
    el("tr", {}, ...values.map((value) => el("td", { class: cellClass(value), text: formatCell(value) }))),
  );
  const shown = preview.rows.length;
  const caption =
    shown === preview.total_rows
      ? `All ${rowCount(shown)} of ${preview.name}`
      : `The first ${shown.toLocaleString("en")} of ${rowCount(preview.total_rows)} of ${preview.name}`;
  return el(
    "div",
    { class: "scroll preview", role: "region", tabindex: "0", "aria-label": caption },
    el("table", {}, el("caption", { class: "hint", text: caption }), el("thead", {}, head), el("tbody", {}, ...rows)),
  );
}

/** A table's heading, facts and CSV download, with room for its preview. */
function tableSection(id, table, root) {
  const facts = [rowCount(table.rows), `${table.columns.length} columns`];
  if (table.parent) facts.push(`each row belongs to a row of ${table.parent}`);
  const preview = el("div", { class: "hint", text: "Loading the first rows…" });
  const section = el(
    "section",
    { class: "table", "aria-label": `Table ${table.name}` },
    el("h4", { text: table.name }),
    el(
      "div",
      { class: "table-facts" },
      el("p", { class: "hint", text: facts.join(" · ") }),
      el("a", { class: "button", href: csvPath(id, table.name, root), download: "", text: `Download ${table.name} as CSV` }),
    ),
    preview,
  );
  return { section, preview };
}

export function setUpDatasetView(parts) {
  const { section, heading, info, excel, content, remove, close, tablesHeading, tablesMessage, tables } = parts;
  const { rootForm, rootInput, deleteDialog, deleteText, onDeleted, onClosed, onRoot, announce, alert } = parts;
  let shown = null; // the dataset on view
  let root = ""; // the JSON Pointer to its records, "" for the whole document
  let generation = 0; // a newer open() makes older answers stale

  /** Show dataset `id`, its tables made of the records at `atRoot`. */
  async function open(id, atRoot = "") {
    const mine = ++generation;
    root = atRoot;
    rootInput.value = root;
    section.hidden = false;
    heading.textContent = "Loading…";
    info.replaceChildren();
    tables.replaceChildren();
    show(tablesMessage, "");
    let dataset;
    try {
      dataset = await getJson(datasetPath(id));
    } catch (error) {
      if (mine !== generation) return null;
      heading.textContent = "Dataset not available";
      show(tablesMessage, error.message);
      focus(heading);
      return null;
    }
    if (mine !== generation) return null;
    shown = dataset;
    heading.textContent = dataset.filename;
    info.replaceChildren(...infoList(dataset));
    excel.href = withQuery(`${datasetPath(id)}excel/`, { root });
    content.href = `${datasetPath(id)}content/`;
    rootForm.hidden = dataset.format === "jsonl"; // each line is a record: there is no root to pick
    focus(heading);
    announce(`Opened ${dataset.filename}.`);
    await showTables(dataset, mine);
    return dataset;
  }

  async function showTables(dataset, mine) {
    // The first listing of a large dataset reads it once: say so while it does.
    tables.replaceChildren(el("p", { class: "hint", text: "Reading the tables…" }));
    let listing;
    try {
      listing = await getJson(withQuery(`${datasetPath(dataset.id)}tables/`, { root }));
    } catch (error) {
      if (mine !== generation) return;
      tables.replaceChildren();
      const reason =
        error instanceof ApiError && error.status === 422
          ? `This data cannot become a spreadsheet: ${error.message}`
          : error.message;
      show(tablesMessage, reason);
      return;
    }
    if (mine !== generation) return;
    const sections = listing.tables.map((table) => tableSection(dataset.id, table, root));
    tables.replaceChildren(...sections.map(({ section }) => section));
    // One preview at a time: each reads the start of the document, so the first shows soonest.
    for (const [index, table] of listing.tables.entries()) {
      const { preview } = sections[index];
      try {
        const rows = await getJson(tablePath(dataset.id, table.name, root));
        if (mine !== generation) return;
        preview.replaceWith(previewTable(rows));
      } catch (error) {
        if (mine !== generation) return;
        preview.className = "message";
        preview.textContent = error.message;
      }
    }
  }

  function hide() {
    generation += 1;
    shown = null;
    section.hidden = true;
  }

  rootForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!shown) return;
    const mine = ++generation;
    root = rootInput.value.trim();
    excel.href = withQuery(`${datasetPath(shown.id)}excel/`, { root });
    show(tablesMessage, "");
    onRoot(shown.id, root);
    focus(tablesHeading);
    announce(root ? `Showing the tables of the records at ${root}.` : "Showing the tables of the whole document.");
    await showTables(shown, mine);
  });

  // Links download as they are; with a token, the page fetches the file, as a link cannot send it.
  section.addEventListener("click", (event) => {
    const link = event.target.closest("a[download]");
    if (!link || !storedToken()) return;
    event.preventDefault();
    announce(`Downloading ${link.textContent.replace(/^Download /, "")}…`);
    downloadWithToken(link.getAttribute("href"), shown ? shown.filename : "download").then(
      () => announce("Download ready."),
      (error) => alert(error.message),
    );
  });

  remove.hidden = false;
  close.hidden = false;
  remove.addEventListener("click", () => {
    if (!shown) return;
    deleteText.textContent = `"${shown.filename}" (${shown.id}) and its exports will be deleted. This cannot be undone.`;
    deleteDialog.returnValue = "";
    deleteDialog.showModal();
  });
  deleteDialog.addEventListener("close", async () => {
    if (deleteDialog.returnValue !== "delete" || !shown) return;
    const doomed = shown;
    try {
      await send(datasetPath(doomed.id), { method: "DELETE" });
    } catch (error) {
      alert(`${doomed.filename} was not deleted: ${error.message}`);
      return;
    }
    hide();
    onDeleted(doomed);
  });
  close.addEventListener("click", () => {
    hide();
    onClosed();
  });

  return { open, hide, current: () => shown };
}
