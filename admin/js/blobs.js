// Images the API serves behind the bearer token, as blob: URLs (an <img src> cannot send
// the token; the CSP allows blob: images).
import { apiUrl, session, ws } from "./api.js";

const cache = new Map(); // ref -> Promise<blob: URL>, for the page's lifetime

/** An uploaded or generated image as a blob: URL (fetched once per page load). */
export function mediaBlobUrl(ref) {
  if (!cache.has(ref)) {
    const url = fetch(apiUrl(ws(`/media/content?ref=${encodeURIComponent(ref)}`)), { headers: { Authorization: `Bearer ${session.token}` } }).then(async (resp) => {
      if (!resp.ok) throw new Error(`image ${ref}: HTTP ${resp.status}`);
      return URL.createObjectURL(await resp.blob());
    });
    url.catch(() => cache.delete(ref)); // a failed fetch may be retried later
    cache.set(ref, url);
  }
  return cache.get(ref);
}
