// Each network's count of a text, in the page, as the server's shared.channels.rules
// counts it: X by twitter-text v3 (URLs 23, CJK and emoji 2), Bluesky in graphemes (300),
// Mastodon in graphemes with every URL as 23 and a remote mention as its @user part (the
// instance's limit). The composer counts as the user types; the server's answer
// (POST .../post-groups/validate) stays the one that decides.
import { configs, parseTweet } from "../../vendor/twitter-text/twitter-text.mjs";

/** An account's or a post's network (none given: X). */
export const networkOf = (item) => item?.network || "x";

/** The order networks are listed in, and a sort of accounts or posts by it. */
export const NETWORK_ORDER = ["x", "bluesky", "mastodon"];
export const byNetwork = (a, b) => NETWORK_ORDER.indexOf(networkOf(a)) - NETWORK_ORDER.indexOf(networkOf(b));

const MASTODON_URL = /https?:\/\/[^\s<>"]+/giu;
const MASTODON_MENTION = /(?<![\p{L}\p{N}_/])@([\p{L}\p{N}_]+(?:[.-][\p{L}\p{N}_]+)*)@[\p{L}\p{N}_.-]*[\p{L}\p{N}_]/giu;
const segmenter = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

export function graphemes(text) {
  if (!segmenter) return Array.from(text).length;
  let n = 0;
  for (const _ of segmenter.segment(text)) n += 1;
  return n;
}

/** { length, limit, unit, valid, permillage } of `text` on the account's network. */
export function countFor(account, text) {
  const t = text || "";
  const network = networkOf(account);
  const limits = account?.limits || {};
  if (network === "x") {
    const limit = Number(limits.weighted_length) || 280;
    const r = parseTweet(t, configs.version3);
    // twitter-text's validity is against 280; an account with a longer limit (Premium).
    const valid = t.trim().length > 0 && r.weightedLength <= limit && (r.valid || r.weightedLength > 280);
    return { length: r.weightedLength, limit, unit: "", valid, permillage: (r.weightedLength * 1000) / limit };
  }
  let length;
  let limit;
  let unit = "";
  if (network === "bluesky") {
    length = graphemes(t);
    limit = 300;
    unit = "graphemes";
  } else {
    const urlLength = Number(limits.url_length) || 23;
    length = graphemes(t.replace(MASTODON_URL, "x".repeat(urlLength)).replace(MASTODON_MENTION, (_, user) => `@${user}`));
    limit = Number(limits.weighted_length) || 500;
  }
  return { length, limit, unit, valid: t.trim().length > 0 && length <= limit, permillage: (length * 1000) / limit };
}

/** The count of `text` on the strictest of `accounts` (the one at the highest share of
 * its limit; not valid if any network would refuse it); `network` says which one. */
export function strictestCount(accounts, text) {
  const counts = (accounts.length ? accounts : [null]).map((a) => ({ ...countFor(a, text), network: networkOf(a) }));
  const worst = counts.reduce((m, c) => (c.permillage > m.permillage ? c : m));
  return { ...worst, valid: counts.every((c) => c.valid) };
}

/** "287 / 300 graphemes": a count as the counters show it. */
export const counterText = (c) => `${c.length} / ${c.limit}${c.unit ? ` ${c.unit}` : ""}`;
