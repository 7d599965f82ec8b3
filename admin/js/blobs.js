// Images the API serves behind the bearer token, as blob: URLs (an <img src> cannot send
// the token; the CSP allows blob: images).
import { fetchBlob, ws } from "./api.js";

const cache = new Map(); // media id -> Promise<blob: URL>, for the page's lifetime

/** An uploaded or generated file's bytes by media id: the composer previews images from
 * blob: URLs of them, not videos (the CSP has no media-src). */
export function mediaBlob(id) {
  return fetchBlob(ws(`/media/${encodeURIComponent(id)}/content`));
}

/** An uploaded or generated image (by media id) as a blob: URL (fetched once per page load). */
export function mediaBlobUrl(id) {
  if (!cache.has(id)) {
    const url = mediaBlob(id).then((blob) => URL.createObjectURL(blob));
    url.catch(() => cache.delete(id)); // a failed fetch may be retried later
    cache.set(id, url);
  }
  return cache.get(id);
}
