// The calendar's items: a post alone, or a post written for several channels (a post
// group) as one item with a badge per network showing that network's own result.
import { h, icon } from "../dom.js";
import { utcToZoned } from "../time.js";
import { LABELS } from "./channels.js";
import { byNetwork, networkOf } from "./networks.js";

const MOVABLE = new Set(["draft", "approved", "scheduled"]);
const STATUS_ICON = { published: "check-circle-fill", failed: "x-circle-fill", unconfirmed: "question-circle-fill", held: "pause-circle-fill", cancelled: "slash-circle" };
const STATUS_BG = { published: "success", failed: "danger", unconfirmed: "warning", held: "warning", cancelled: "secondary" };

/** A day's posts as calendar entries: each group's posts together (X, Bluesky, Mastodon),
 * in due order. */
export function entries(posts) {
  const out = [];
  const groups = new Map();
  for (const p of [...posts].sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)))) {
    if (!p.group_id) {
      out.push({ posts: [p] });
      continue;
    }
    if (!groups.has(p.group_id)) {
      const entry = { group: p.group_id, posts: [] };
      groups.set(p.group_id, entry);
      out.push(entry);
    }
    groups.get(p.group_id).posts.push(p);
  }
  for (const entry of groups.values()) entry.posts.sort(byNetwork);
  return out;
}

function networkBadge(p) {
  const network = networkOf(p);
  const reason = p.last_error?.reason || p.status_reason || "";
  return h(
    "span",
    { class: `badge cal-network me-1 text-bg-${STATUS_BG[p.status] || "primary"}`, dataset: { network, status: p.status }, title: `${LABELS[network] || network}: ${p.status}${reason ? ` (${reason})` : ""}` },
    icon(STATUS_ICON[p.status] || "clock"),
    ` ${LABELS[network] || network}`,
    h("span", { class: "visually-hidden" }, ` ${p.status}`),
  );
}

/** The entry's element; `drag` is what a drop needs to move it (null: it cannot move). */
export function entryElement(entry, tz, canMove) {
  const [first] = entry.posts;
  const statuses = new Set(entry.posts.map((p) => p.status));
  const status = statuses.size === 1 ? first.status : "mixed";
  const movable = canMove && entry.posts.every((p) => MOVABLE.has(p.status));
  const when = first.published_at || first.due_at;
  const text = first.text || (first.parts || [])[0] || "";
  const timeBg = status === "published" ? "success" : status === "failed" ? "danger" : status === "mixed" ? "warning" : "primary";
  const item = h(
    "a",
    {
      class: `cal-item${movable ? "" : " locked"}${entry.group ? " cal-group" : ""}`,
      href: `#/compose?post=${encodeURIComponent(first.id)}`,
      draggable: movable ? "true" : "false",
      dataset: { id: first.id, status, ...(entry.group ? { group: entry.group } : {}) },
      title: entry.group ? `${entry.posts.map((p) => `${LABELS[networkOf(p)]}: ${p.status}`).join(", ")} · ${text}` : `${first.status}: ${text}`,
    },
    h("span", { class: `badge me-1 text-bg-${timeBg}` }, utcToZoned(when, tz).slice(11, 16)),
    entry.group ? h("span", { class: "cal-networks" }, entry.posts.map(networkBadge)) : null,
    h("span", { class: "cal-text" }, text),
  );
  const drag = movable ? { id: first.id, group: entry.group || null, when, status: first.status } : null;
  return { item, drag };
}
