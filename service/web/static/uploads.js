// Uploading: files from the picker or dropped on the box, each with its own progress and result.

import { upload } from "./api.js";
import { el } from "./dom.js";
import { formatSize } from "./format.js";

/** One line in the uploads list: the file's name, a progress bar, then its result. */
function uploadItem(file) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` });
  const result = el("p", { class: "result", text: `Waiting (${formatSize(file.size)})` });
  const item = el("li", {}, el("strong", { text: file.name }), progress, result);
  return { item, progress, result };
}

/**
 * Wire the upload form: `onUploaded(dataset)` runs for each stored file, `announce(text)` speaks.
 * Uploads run one after another, so the first finishes (and shows) as soon as it can.
 */
export function setUpUploads({ form, input, dropZone, dropHint, button, list, onUploaded, onOpen, announce }) {
  let queue = Promise.resolve();

  function uploadAll(files) {
    if (!files.length) return;
    announce(files.length === 1 ? `Uploading ${files[0].name}.` : `Uploading ${files.length} files.`);
    for (const file of files) {
      const line = uploadItem(file);
      list.append(line.item);
      queue = queue.then(() => uploadOne(file, line));
    }
  }

  async function uploadOne(file, { item, progress, result }) {
    result.textContent = "Uploading…";
    try {
      const dataset = await upload(file, (fraction) => {
        progress.value = Math.round(fraction * 100);
      });
      progress.value = 100;
      item.classList.add("done");
      const open = el("button", { type: "button", text: `Open ${dataset.filename}` });
      open.addEventListener("click", () => onOpen(dataset.id));
      result.replaceChildren(`Stored as ${dataset.id}. `, open);
      onUploaded(dataset);
      announce(`${file.name} uploaded.`);
    } catch (error) {
      progress.remove();
      item.classList.add("failed");
      result.textContent = `Not uploaded: ${error.message}`;
      announce(`${file.name} was not uploaded: ${error.message}`);
    }
  }

  // With the script the picker uploads at once, so the submit button is not needed.
  button.hidden = true;
  dropHint.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    uploadAll([...input.files]);
  });
  input.addEventListener("change", () => {
    uploadAll([...input.files]);
    input.value = "";
  });
  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropZone.classList.add("dragging");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("dragging");
    uploadAll([...event.dataTransfer.files]);
  });
}
