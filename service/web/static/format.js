// How sizes and times read on the page (as dsclient prints them).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 53143 -> "51.9 KiB". */
export function formatSize(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** "2026-11-26T13:58:09.534000+00:00" -> "2026-11-26 13:58:09" (the API's times are UTC). */
export function formatTime(iso) {
  return iso.slice(0, 19).replace("T", " ");
}

/** A preview cell's text: values are typed as in JSON; null is an empty cell. */
export function formatCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
