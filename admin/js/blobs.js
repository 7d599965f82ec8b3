// Images the API serves behind the bearer token, as blob: URLs (an <img src> cannot send
// the token; the CSP allows blob: images).
import { apiUrl, session, ws } from "./api.js";

const cache = new Map(); // media id -> Promise<blob: URL>, for the page's lifetime

/** An uploaded or generated image (by media id) as a blob: URL (fetched once per page load). */
export function mediaBlobUrl(id) {
  if (!cache.has(id)) {
    const url = fetch(apiUrl(ws(`/media/${encodeURIComponent(id)}/content`)), { headers: { Authorization: `Bearer ${session.token}` } }).then(async (resp) => {
      if (!resp.ok) throw new Error(`image ${id}: HTTP ${resp.status}`);
      return URL.createObjectURL(await resp.blob());
    });
    url.catch(() => cache.delete(id)); // a failed fetch may be retried later
    cache.set(id, url);
  }
  return cache.get(id);
}
