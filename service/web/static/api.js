// The API as the page uses it: every call goes through here, with the token when there is one.
//
// The token lives in sessionStorage (this tab, until it closes) and travels only in the
// Authorization header, never in a URL: downloads that need it are fetched and handed to the
// browser as a blob.

import { el } from "./dom.js";

const TOKEN_KEY = "datasets-api:token";
export const DATASETS = "/datasets/";

/** An answer other than success: the HTTP status (0 when the API could not be reached) and the
 * API's own message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let promptForToken = async () => null;
let openPrompt = null;
const tokenListeners = [];

/** How the page asks a person for a token: `prompt(reason)` resolves to the token or null. */
export function setTokenPrompt(prompt) {
  promptForToken = prompt;
}

/** Call `listener(token or null)` whenever the token changes. */
export function onTokenChange(listener) {
  tokenListeners.push(listener);
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  tokenListeners.forEach((listener) => listener(null));
}

function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  tokenListeners.forEach((listener) => listener(token));
}

/** After a 401 to a request sent with `refused` (a token or null): the token to retry with, or null
 * when the person declines. Requests refused at the same time share one question. */
async function tokenAfterRefusal(message, refused) {
  const current = storedToken();
  if (current && current !== refused) return current; // another request got a new one meanwhile
  if (!openPrompt) {
    const reason = refused ? `The API refused that token. ${message}` : message;
    openPrompt = promptForToken(reason).finally(() => {
      openPrompt = null;
    });
  }
  const token = await openPrompt;
  if (token && token !== storedToken()) keepToken(token);
  return token;
}

function authorization() {
  const token = storedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function messageOf(response) {
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") return body.message;
  } catch {
    // not JSON: a proxy's page, say
  }
  return `The API answered ${response.status} ${response.statusText}.`;
}

function unreachable(error) {
  return new ApiError(0, `Cannot reach the API (${error.message}). Is the server running?`);
}

/** `fetch` with the token; a 401 asks for one and tries again, any other failure is an ApiError. */
export async function send(path, options = {}) {
  for (;;) {
    const sentWith = storedToken();
    let response;
    try {
      response = await fetch(path, {
        ...options,
        headers: { Accept: "application/json", ...options.headers, ...authorization() },
      });
    } catch (error) {
      throw unreachable(error);
    }
    if (response.ok) return response;
    const message = await messageOf(response);
    if (response.status !== 401) throw new ApiError(response.status, message);
    if (!(await tokenAfterRefusal(message, sentWith))) throw new ApiError(401, message);
  }
}

/** The JSON body of a successful GET. */
export async function getJson(path) {
  return (await send(path)).json();
}

function postFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", DATASETS);
    request.responseType = "json";
    request.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(authorization())) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => resolve(request));
    request.addEventListener("error", () => reject(unreachable(new Error("the connection was lost"))));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

/** Upload one file as the multipart field `file`, reporting progress from 0 to 1; the new dataset. */
export async function upload(file, onProgress) {
  for (;;) {
    const sentWith = storedToken();
    const answer = await postFile(file, onProgress);
    if (answer.status === 201) return answer.response;
    const body = answer.response;
    const message =
      body && typeof body.message === "string" ? body.message : `The API answered ${answer.status}.`;
    if (answer.status !== 401) throw new ApiError(answer.status, message);
    if (!(await tokenAfterRefusal(message, sentWith))) throw new ApiError(401, message);
  }
}

/** The file name a Content-Disposition header gives (RFC 6266: filename* first). */
export function attachmentName(header) {
  if (!header) return null;
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (encoded) return decodeURIComponent(encoded[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : null;
}

/** Download `path` with the token: fetched whole, then saved by the browser from an object URL. */
export async function downloadWithToken(path, fallbackName) {
  const response = await send(path, { headers: { Accept: "*/*" } });
  const name = attachmentName(response.headers.get("Content-Disposition")) || fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the blob once the click is handled; keep it a while for slow disks.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
