// Wall-clock time in an IANA timezone <-> UTC instants. Intl does the zone rules where
// the browser knows the zone; for one it lacks, the server's current offset stands in
// (GET /timezones), so nothing throws "Invalid time zone specified".
import { serverOffset } from "./zones.js";

const supported = new Map();

/** Whether the browser's Intl knows this zone (cached). */
export function intlKnows(timeZone) {
  if (!supported.has(timeZone)) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone }).format(0);
      supported.set(timeZone, true);
    } catch {
      supported.set(timeZone, false);
    }
  }
  return supported.get(timeZone);
}

function offsetMs(instantMs, timeZone) {
  if (!timeZone || !intlKnows(timeZone)) return serverOffset(timeZone) * 60_000;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instantMs));
  const v = Object.fromEntries(parts.map((p) => [p.type, Number(p.value)]));
  const asUtc = Date.UTC(v.year, v.month - 1, v.day, v.hour % 24, v.minute, v.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/** "2026-11-21T18:30[:15]" in `timeZone` -> Date (the instant). */
export function zonedToUtc(local, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let guess = wall - offsetMs(wall, timeZone);
  guess = wall - offsetMs(guess, timeZone); // second pass settles DST edges
  return new Date(guess);
}

/** Date -> "YYYY-MM-DDTHH:MM:SS" wall time in `timeZone` (datetime-local with seconds). */
export function utcToZoned(date, timeZone) {
  const d = new Date(date);
  const shifted = new Date(d.getTime() + offsetMs(d.getTime(), timeZone));
  return shifted.toISOString().slice(0, 19);
}

/** "YYYY-MM-DD" of an instant in `timeZone`. */
export function dayKey(date, timeZone) {
  return utcToZoned(date, timeZone).slice(0, 10);
}

/** An instant for people: the browser's formatting in `timeZone` (or by the server's
 * offset, labelled, for a zone the browser lacks). */
export function formatInstant(value, timeZone, options = { dateStyle: "medium", timeStyle: "short" }) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  if (!timeZone || intlKnows(timeZone)) return date.toLocaleString(undefined, { ...options, timeZone: timeZone || undefined });
  const minutes = serverOffset(timeZone);
  const shifted = new Date(date.getTime() + minutes * 60_000);
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  const tag = `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return `${shifted.toLocaleString(undefined, { ...options, timeZone: "UTC" })} (${tag})`;
}
