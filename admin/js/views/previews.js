// The composer's preview, one per channel the post goes to, each as its network shows it:
// X with twitter-text's entities and "link in first reply"; Bluesky with its links,
// mentions and hashtags as facets; Mastodon with links shortened as its web app shows
// them and the handle with its instance. Under each, the length as that network counts it.
import { extractEntitiesWithIndices } from "../../vendor/twitter-text/twitter-text.mjs";
import { clear, h, icon } from "../dom.js";
import { LABELS } from "./channels.js";
import { countFor, networkOf } from "./networks.js";

// Links, mentions (@handle.domain or @user@instance) and hashtags, as Bluesky's and
// Mastodon's apps highlight them.
const ENTITY = /(https?:\/\/[^\s<>"]+)|((?<![\p{L}\p{N}_/])@[\p{L}\p{N}_]+(?:[.\-@][\p{L}\p{N}_]+)*)|((?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)/gu;
const MASTODON_LINK_SHOWN = 30; // characters of a link after its scheme, then "…"

/** The text as DOM nodes, with twitter-text's URLs, mentions, hashtags and cashtags. */
function xText(text) {
  const out = h("div", { class: "tweet-text" });
  const cps = Array.from(text); // twitter-text indices are in code points
  let at = 0;
  const entities = extractEntitiesWithIndices(text).sort((a, b) => a.indices[0] - b.indices[0]);
  const utf16ToCp = (i) => Array.from(text.slice(0, i)).length;
  for (const e of entities) {
    const [s, t] = e.indices.map(utf16ToCp);
    if (s < at) continue;
    out.append(cps.slice(at, s).join(""));
    out.append(h("span", { class: "ent" }, cps.slice(s, t).join("")));
    at = t;
  }
  out.append(cps.slice(at).join(""));
  return out;
}

/** Bluesky's and Mastodon's text: entities highlighted; Mastodon shortens its links. */
function fediText(text, network) {
  const out = h("div", { class: "tweet-text" });
  let at = 0;
  for (const m of text.matchAll(ENTITY)) {
    out.append(text.slice(at, m.index));
    let shown = m[0];
    if (m[1] && network === "mastodon") {
      const bare = m[1].replace(/^https?:\/\/(www\.)?/i, "");
      shown = bare.length > MASTODON_LINK_SHOWN ? `${bare.slice(0, MASTODON_LINK_SHOWN)}…` : bare;
    }
    out.append(h("span", { class: "ent", title: m[1] ? m[1] : "" }, shown));
    at = m.index + m[0].length;
  }
  out.append(text.slice(at));
  return out;
}

function identity(account, network) {
  const handle = account?.handle || "";
  const host = network === "mastodon" && account?.service_url && !handle.includes("@") ? `@${new URL(account.service_url).host}` : "";
  const at = handle ? `@${handle.replace(/^@/, "")}${host}` : "";
  // A display name that is only the handle again (sandbox accounts) is not shown twice.
  const name = account?.display_name && !account.display_name.includes(handle) ? account.display_name : "";
  return [name || !account ? h("strong", { class: "text-body me-1" }, name || "Your account") : null, at];
}

function mediaRow(media) {
  return h(
    "div",
    { class: "d-flex gap-2 mt-2 flex-wrap" },
    media.map((m) => (m.url ? h("img", { class: "thumb", src: m.url, alt: m.alt || "image" }) : h("span", { class: "badge text-bg-secondary media-badge" }, icon(m.kind === "video" ? "film" : "image"), m.kind || "media"))),
  );
}

/**
 * Draw `channels` into `box`: each `{ account, texts, linkReply }` (texts: the posts as
 * they go out, thread parts or a variant; linkReply: its second post carries the links).
 * The first channel's media ride on every network's first post.
 */
export function renderPreviews(box, channels, media) {
  clear(box);
  for (const { account, texts, linkReply } of channels) {
    const network = networkOf(account);
    const section = h("section", { class: "network-preview", dataset: { network, account: account?.id || "" }, "aria-label": `Preview on ${LABELS[network]}` });
    section.append(h("div", { class: "small fw-semibold mb-1 network-preview-label" }, LABELS[network]));
    texts.forEach((text, i) => {
      const count = countFor(account, text);
      section.append(
        h(
          "div",
          { class: `tweet-preview${network === "x" ? "" : " post-preview"}`, dataset: { network } },
          h("div", { class: "small text-body-secondary mb-1 preview-head" }, ...identity(account, network), account?.sandbox ? h("span", { class: "badge text-bg-warning ms-1" }, "sandbox") : null, texts.length > 1 ? ` · ${i + 1}/${texts.length}` : "", i === 1 && linkReply ? h("span", { class: "badge text-bg-info ms-1 link-reply-badge" }, "link in first reply") : null),
          network === "x" ? xText(text) : fediText(text, network),
          i === 0 ? mediaRow(media) : null,
          h("div", { class: `small mt-1 preview-count${count.valid ? " text-body-secondary" : " text-danger"}`, dataset: { valid: count.valid ? "1" : "0" } }, `${count.length} / ${count.limit}${count.unit ? ` ${count.unit}` : ""}`),
        ),
      );
    });
    box.append(section);
  }
}
