// Wall-clock time in an IANA timezone <-> UTC instants, with Intl only (no library needed).

function offsetMs(instantMs, timeZone) {
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

/** "2026-11-21T18:30" in `timeZone` -> Date (the instant). */
export function zonedToUtc(local, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let guess = wall - offsetMs(wall, timeZone);
  guess = wall - offsetMs(guess, timeZone); // second pass settles DST edges
  return new Date(guess);
}

/** Date -> "YYYY-MM-DDTHH:MM" wall time in `timeZone` (for datetime-local inputs). */
export function utcToZoned(date, timeZone) {
  const d = new Date(date);
  const shifted = new Date(d.getTime() + offsetMs(d.getTime(), timeZone));
  return shifted.toISOString().slice(0, 16);
}

/** "YYYY-MM-DD" of an instant in `timeZone`. */
export function dayKey(date, timeZone) {
  return utcToZoned(date, timeZone).slice(0, 10);
}

export function timeZones() {
  let zones;
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = ["Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
  }
  // Chromium lists no "UTC" (a workspace's default zone): a select without it showed none.
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
