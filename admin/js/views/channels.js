// The composer's channels: the other accounts (X, Bluesky, Mastodon) a post also goes
// to, each with an optional text variant, and one live counter per selected channel with
// its network's limit as the server counts it (POST .../post-groups/validate).
import { post, ws } from "../api.js";
import { clear, h } from "../dom.js";
import { networkOf } from "./networks.js";

export const LABELS = { x: "X", bluesky: "Bluesky", mastodon: "Mastodon" };

export function channelName(account) {
  return `${LABELS[networkOf(account)]} @${account.handle || account.id}${account.sandbox ? " (sandbox)" : ""}`;
}

/** The web page of a published post on its network (null for sandbox posts). */
export function networkUrl(p, account) {
  const id = (p.x_ids || [])[0];
  if (!id || p.sandbox) return null;
  const network = p.network || networkOf(account);
  if (network === "bluesky") {
    const [, did, , rkey] = id.split("|")[0].match(/^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/) || [];
    return did ? `https://bsky.app/profile/${encodeURIComponent(did)}/post/${encodeURIComponent(rkey)}` : null;
  }
  if (network === "mastodon") {
    const user = (account?.handle || "").replace(/^@/, "").split("@")[0];
    return account?.service_url ? `${account.service_url.replace(/\/$/, "")}/@${encodeURIComponent(user)}/${encodeURIComponent(id)}` : null;
  }
  return `https://x.com/${encodeURIComponent(account?.handle || "i/web")}/status/${encodeURIComponent(id)}`;
}

/** The "Also post to" panel: `primary` is the composer's account select; `texts()` the
 * thread's parts as written; `onChange()` when a channel or a variant changes (the
 * composer redraws its previews, which refreshes the counters). */
export function channelPanel(accounts, primary, texts, onChange = () => {}) {
  const chosen = new Map(); // account id -> variant text ("" = the main text)
  const list = h("div", { id: "compose-channels", class: "d-flex flex-column gap-1" });
  const counters = h("div", { id: "network-counters", class: "d-flex flex-wrap gap-2 small mt-2", "aria-live": "polite" });
  let timer = null;
  let asked = 0;

  function draw() {
    clear(list);
    const others = accounts.filter((a) => a.id !== primary.value);
    if (!others.length) list.append(h("span", { class: "small text-body-secondary" }, "Connect Bluesky or Mastodon in Settings to post to several networks at once."));
    for (const a of others) {
      const box = h("input", { class: "form-check-input", type: "checkbox", id: `channel-${a.id}`, checked: chosen.has(a.id), dataset: { network: networkOf(a) } });
      const variant = h("textarea", { class: "form-control form-control-sm mt-1 variant-input", id: `variant-${a.id}`, rows: 2, placeholder: `A different text for ${LABELS[networkOf(a)]} (empty: the main text)`, "aria-label": `Text for ${channelName(a)}` });
      variant.value = chosen.get(a.id) || "";
      variant.hidden = !chosen.has(a.id);
      box.addEventListener("change", () => {
        if (box.checked) chosen.set(a.id, variant.value);
        else chosen.delete(a.id);
        variant.hidden = !box.checked;
        onChange();
      });
      variant.addEventListener("input", () => {
        chosen.set(a.id, variant.value);
        onChange();
      });
      list.append(h("div", { class: "form-check mb-0" }, box, h("label", { class: "form-check-label", for: `channel-${a.id}` }, channelName(a)), variant));
    }
  }

  /** What POST .../post-groups takes as `channels`: the primary first. */
  function selected() {
    const others = [...chosen].filter(([id]) => id !== primary.value);
    return [{ account_id: primary.value }, ...others.map(([id, text]) => (text.trim() ? { account_id: id, text: text.trim() } : { account_id: id }))];
  }

  // One counter per channel, as the server counts (graphemes, the instance's limit, X's
  // weights); a request at most every 400 ms while typing, the latest answer wins.
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const parts = texts();
      if (!primary.value || !parts[0].trim()) return clear(counters);
      const mine = ++asked;
      try {
        const r = await post(ws("/post-groups/validate"), { text: parts[0], parts, channels: selected() });
        if (mine !== asked) return;
        clear(counters).append(
          ...r.channels.map((c) => {
            const used = Math.max(...(c.counter?.lengths || [0]));
            const over = used > (c.counter?.limit ?? Infinity);
            return h(
              "span",
              { class: `badge net-counter ${c.ok ? "text-bg-light border" : "text-bg-danger"}`, title: c.problems.map((p) => p.message).join("; "), dataset: { network: c.network, account: c.account_id, valid: c.ok ? "1" : "0", length: String(used) } },
              `${c.label} @${c.handle}: ${used} / ${c.counter?.limit ?? "?"}${c.counter?.unit === "graphemes" ? " graphemes" : ""}${over ? " — too long" : ""}`,
            );
          }),
        );
      } catch {
        /* offline or a viewer: the X counter stays */
      }
    }, 400);
  }

  primary.addEventListener("change", () => {
    chosen.delete(primary.value);
    draw();
    refresh();
  });
  draw();
  return { element: h("div", {}, list, counters), selected, refresh, isGroup: () => selected().length > 1 };
}

/** Checkboxes of the accounts besides `primaryId()` (a campaign's channels, the drafts'
 * "also write for"), each with its network's name. An account that cannot post any more
 * shows only while it is chosen, marked, so it can be taken out. */
export function channelPicker(accounts, primaryId, { id, chosen = [], onChange = () => {} }) {
  let picked = new Set(chosen);
  const box = h("div", { id, class: "d-flex flex-wrap gap-3 channel-picker" });
  function draw() {
    clear(box);
    const shown = accounts.filter((a) => a.id !== primaryId() && (a.status === "active" || picked.has(a.id)));
    if (!shown.length) box.append(h("span", { class: "small text-body-secondary" }, "Connect Bluesky, Mastodon or another X account in Settings to post to several networks."));
    for (const a of shown) {
      const input = h("input", { class: "form-check-input", type: "checkbox", id: `${id}-${a.id}`, value: a.id, checked: picked.has(a.id), dataset: { network: networkOf(a) } });
      input.addEventListener("change", () => {
        if (input.checked) picked.add(a.id);
        else picked.delete(a.id);
        onChange();
      });
      const note = a.status === "active" ? null : h("span", { class: "text-danger small" }, ` (${a.status}: skipped)`);
      box.append(h("div", { class: "form-check mb-0" }, input, h("label", { class: "form-check-label", for: `${id}-${a.id}` }, channelName(a), note)));
    }
  }
  draw();
  return {
    element: box,
    /** The chosen ids, the primary never among them. */
    selected: () => [...picked].filter((x) => x !== primaryId()),
    reset(ids) {
      picked = new Set(ids);
      draw();
    },
    redraw: draw,
  };
}

/** A refused group's problems, one line per channel (the 400's details.channels). */
export function groupProblems(details) {
  const bad = (details?.channels || []).filter((c) => !c.ok);
  if (!bad.length) return null;
  return h("ul", { class: "mb-0 small group-problems" }, bad.map((c) => h("li", { dataset: { network: c.network } }, `${c.label} @${c.handle}: ${c.problems.map((p) => p.message).join("; ")}`)));
}
