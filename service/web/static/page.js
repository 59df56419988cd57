// The page's script: enhances the server-rendered page; without it the form and links still work.

import { forgetToken, onTokenChange, setTokenPrompt, storedToken } from "./api.js";
import { setUpDatasetView } from "./dataset.js";
import { pageLink, setUpDatasetList } from "./datasets.js";
import { focus, show } from "./dom.js";
import { setUpUploads } from "./uploads.js";

const byId = (id) => document.getElementById(id);

function start() {
  const status = byId("status");
  const alertBox = byId("alert");
  const announce = (text) => {
    status.textContent = text;
  };
  const alert = (text) => show(alertBox, text);

  setUpTokenDialog(byId("token-dialog"), byId("token-reason"), byId("token-input"));

  const list = setUpDatasetList({
    table: byId("datasets"),
    message: byId("datasets-message"),
    empty: byId("datasets-empty"),
    nextLink: byId("next-page"),
    more: byId("more"),
    signIn: byId("sign-in"),
    onOpen: (id) => openDataset(id, true),
    announce,
  });

  const view = setUpDatasetView({
    section: byId("dataset"),
    heading: byId("dataset-heading"),
    info: byId("dataset-info"),
    excel: byId("download-excel"),
    content: byId("download-content"),
    remove: byId("delete"),
    close: byId("close-dataset"),
    tablesHeading: byId("tables-heading"),
    tablesMessage: byId("tables-message"),
    rootForm: byId("root-form"),
    rootInput: byId("root-input"),
    tables: byId("tables"),
    deleteDialog: byId("delete-dialog"),
    deleteText: byId("delete-text"),
    onDeleted: (dataset) => {
      list.remove(dataset.id);
      history.pushState(null, "", location.pathname);
      announce(`Deleted ${dataset.filename}.`);
      focus(byId("datasets-heading"));
    },
    onRoot: (id, root) => history.pushState(null, "", pageLink(id, root)),
    onClosed: () => {
      history.pushState(null, "", location.pathname);
      list.markCurrent(null);
      focus(byId("datasets-heading"));
    },
    announce,
    alert,
  });

  function openDataset(id, remember, root = "") {
    alert("");
    if (remember) history.pushState(null, "", pageLink(id, root));
    list.markCurrent(id);
    return view.open(id, root);
  }

  setUpUploads({
    form: byId("upload-form"),
    input: byId("file-input"),
    dropZone: byId("drop-zone"),
    dropHint: byId("drop-hint"),
    button: byId("upload-button"),
    list: byId("uploads"),
    onUploaded: (dataset) => list.add(dataset),
    onOpen: (id) => openDataset(id, true),
    announce,
  });

  const tokenStatus = byId("token-status");
  const showTokenStatus = (token) => {
    tokenStatus.hidden = !token;
  };
  showTokenStatus(storedToken());
  onTokenChange(showTokenStatus);
  byId("forget-token").addEventListener("click", () => {
    forgetToken();
    view.hide();
    list.lock("The token is forgotten: enter one to see the datasets.");
    announce("The token is forgotten.");
    focus(byId("datasets-heading"));
  });

  const showWhatTheUrlSays = () => {
    const query = new URLSearchParams(location.search);
    if (query.get("dataset")) openDataset(query.get("dataset"), false, query.get("root") || "");
    else view.hide();
  };
  window.addEventListener("popstate", showWhatTheUrlSays);
  if (new URLSearchParams(location.search).get("dataset")) showWhatTheUrlSays();
}

/** Ask for a token in a modal dialog: resolves to what was typed, or null on Cancel or Escape. */
function setUpTokenDialog(dialog, reason, input) {
  setTokenPrompt(
    (why) =>
      new Promise((resolve) => {
        reason.textContent = why;
        input.value = "";
        dialog.returnValue = "";
        dialog.addEventListener(
          "close",
          () => resolve(dialog.returnValue === "use" && input.value.trim() ? input.value.trim() : null),
          { once: true },
        );
        dialog.showModal();
        input.focus();
      }),
  );
}

if (window.fetch && window.HTMLDialogElement && window.sessionStorage) start();
