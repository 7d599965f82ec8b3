// What a composed post becomes on X, worked out in the page while the person types:
// the "link in first reply" split and the estimated cost (the server's answers replace
// both when they arrive).
import { extractEntitiesWithIndices } from "../../vendor/twitter-text/twitter-text.mjs";

const HTTP = /https?:\/\/\S+/gi;

/** "Link in first reply": the main post without its links, a reply with them (the
 * server's shared.x.links does the same; its answer replaces this one). */
export function outgoing(texts, linkInReply) {
  if (!linkInReply || !texts.length) return texts.slice();
  const head = texts[0];
  const spans = [...head.matchAll(HTTP)].map((m) => [m.index, m.index + m[0].length]);
  for (const e of extractEntitiesWithIndices(head)) {
    if (e.url && !spans.some(([s, t]) => s <= e.indices[0] && e.indices[0] < t)) spans.push(e.indices);
  }
  if (!spans.length) return texts.slice();
  spans.sort((a, b) => a[0] - b[0]);
  let rest = "";
  let at = 0;
  for (const [s, t] of spans) {
    rest += head.slice(at, s);
    at = t;
  }
  rest = (rest + head.slice(at)).replace(/[ \t]{2,}/g, " ").replace(/[ \t]+([.,;:!?])/g, "$1").trim();
  return [rest, spans.map(([s, t]) => head.slice(s, t)).join(" "), ...texts.slice(1)];
}

/** X bills per post (pay-per-use: a post with a URL costs more) plus media uploads. */
export function estimate(parts, account) {
  const pricing = account?.pricing;
  if (!pricing) return null;
  let total = 0;
  let withUrl = 0;
  for (const p of parts) {
    const hasUrl = extractEntitiesWithIndices(p.text).some((e) => e.url);
    if (hasUrl) withUrl += 1;
    total += Number(hasUrl ? pricing.post_with_url_usd : pricing.post_usd) || 0;
  }
  const images = parts.reduce((n, p) => n + p.media.length, 0);
  total += images * (Number(pricing.media_upload_usd) || 0);
  return { total, withUrl, images, model: pricing.model, tier: account.tier, monthly: Number(pricing.monthly_usd) || 0 };
}
