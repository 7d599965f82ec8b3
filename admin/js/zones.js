// The timezone list: the server's own IANA database (GET /timezones), the one every
// timezone field is checked against. Chromium's Intl.supportedValuesOf("timeZone")
// lacks UTC and Asia/Kolkata, so it is never the source of a list here.
import { get } from "./api.js";

let zones = null; // [{name, offset_minutes}]
let loading = null;
const offsets = new Map();

/** Loads the list once (the page calls it before the first view renders). */
export function loadZones() {
  if (zones) return Promise.resolve(zones);
  if (!loading) {
    loading = get("/timezones")
      .then((r) => r.zones)
      .catch(() => [{ name: "UTC", offset_minutes: 0 }]) // the page still works, in UTC
      .then((list) => {
        zones = list;
        list.forEach((z) => offsets.set(z.name, z.offset_minutes));
        return list;
      });
  }
  return loading;
}

/** The server's current offset of a zone in minutes (for zones the browser lacks). */
export function serverOffset(name) {
  return offsets.get(name) ?? 0;
}

function label(z) {
  const m = Math.abs(z.offset_minutes);
  const sign = z.offset_minutes < 0 ? "−" : "+";
  const hhmm = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return z.name === "UTC" ? "UTC" : `${z.name.replaceAll("_", " ")} (UTC${sign}${hhmm})`;
}

/**
 * A <select> of every zone with `value` chosen, also as its default (form.reset() comes
 * back to it). A value the list lacks (an old alias saved earlier) is kept as an option.
 */
export function zoneSelect(attrs, value) {
  const list = zones || [{ name: "UTC", offset_minutes: 0 }];
  const chosen = value || "UTC";
  const select = document.createElement("select");
  select.className = "form-select";
  for (const [key, value] of Object.entries(attrs || {})) select.setAttribute(key, value);
  const names = list.map((z) => [z.name, label(z)]);
  if (!list.some((z) => z.name === chosen)) names.unshift([chosen, chosen]);
  for (const [name, text] of names) select.add(new Option(text, name, name === chosen, name === chosen));
  return select;
}
