// Media library: every image, GIF and video the workspace uploaded or generated, newest
// first; upload new ones here, pick them in the composer.
import { canEdit, listAll, request, session, ws } from "../api.js";
import { mediaBlobUrl } from "../blobs.js";
import { card, clear, fmtDate, h, icon } from "../dom.js";
import { act, editable, pageHeader, toast, viewerNotice } from "../ui.js";

function size(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

/** The grid of images; `onPick(id)` makes each tile a button that picks it. */
export async function mediaGrid({ onPick, compact } = {}) {
  const grid = h("div", { class: "media-grid", id: compact ? "library-grid" : "media-grid" });
  const items = await listAll(ws("/media"), {}, 200).catch(() => []);
  if (!items.length) return h("div", { class: "text-body-secondary small", id: compact ? "library-grid" : "media-grid" }, "No images yet: upload one.");
  for (const [i, m] of items.entries()) {
    // Videos show as a badge: the CSP has no media-src, so no <video> preview.
    const video = m.content_type.startsWith("video/");
    const img = video ? h("span", { class: "badge text-bg-secondary media-video" }, icon("film"), ` video ${i + 1}`) : h("img", { alt: `Image ${i + 1} of the library, ${m.content_type}, ${size(m.bytes)}` });
    if (!video) mediaBlobUrl(m.id).then((url) => (img.src = url)).catch(() => img.replaceWith(h("span", { class: "small text-danger" }, "unavailable")));
    const caption = h("div", { class: "small text-body-secondary mt-1 text-truncate" }, `${m.content_type.replace("image/", "")} · ${size(m.bytes)}`, compact ? null : h("div", {}, fmtDate(m.created_at, session.workspace?.timezone)));
    if (onPick) {
      const pick = h("button", { type: "button", class: "media-tile btn text-start", dataset: { id: m.id }, "aria-label": `Add image ${i + 1} to the post` }, img, caption);
      pick.addEventListener("click", () => {
        pick.classList.add("chosen");
        onPick(m.id);
      });
      grid.append(pick);
    } else grid.append(h("div", { class: "media-tile", dataset: { id: m.id } }, img, caption));
  }
  return grid;
}

export async function render(root) {
  const box = h("div");
  const errorBox = h("div");
  const refresh = async () => clear(box).append(await mediaGrid());
  const file = h("input", { class: "form-control", type: "file", id: "media-file", accept: "image/png,image/jpeg,image/gif,image/webp,video/mp4,video/quicktime", multiple: true, "aria-label": "Images, GIFs or videos to upload" });
  const upload = editable(h("button", { class: "btn btn-primary", type: "button", id: "media-upload" }, icon("upload"), "Upload"));
  upload.addEventListener("click", async () => {
    const files = Array.from(file.files);
    if (!files.length) return;
    const done = await act(upload, async () => {
      for (const f of files) {
        const form = new FormData();
        form.append("file", f);
        await request("POST", ws("/media"), form);
      }
      return files.length;
    }, { errorBox });
    if (done) {
      toast(`${done} image${done > 1 ? "s" : ""} uploaded`);
      file.value = "";
      await refresh();
    }
  });
  root.append(
    pageHeader("Media library"),
    viewerNotice(),
    errorBox,
    canEdit() ? card("Upload", h("div", {}, h("div", { class: "input-group" }, file, upload), h("div", { class: "form-text" }, "JPEG, PNG or WebP up to 5 MB, GIF up to 15 MB, MP4 or MOV video (X's limits). Images the generator draws land here too."))) : h("span"),
    card("Images", box),
  );
  await refresh();
}
