// Post composer: thread editor with the live twitter-text weighted counter (the real
// twitter-text library, config v3, as the server's twitter-text-parser), preview, images,
// GIFs and videos with their alt text (uploaded or from the media library), templates,
// "link in first reply", a schedule picker to the second with the server's timezones, the
// estimated X cost and the month's spend against the budgets; other channels (Bluesky,
// Mastodon, more X accounts) the post also goes to (./channels.js).
import { canEdit, get, listAll, patch, post, request, session, ws } from "../api.js";
import { mediaBlob } from "../blobs.js";
import { card, clear, field, fmtDate, h, icon } from "../dom.js";
import { utcToZoned, zonedToUtc } from "../time.js";
import { zoneSelect } from "../zones.js";
import { checkButton, libraryPicker, seriesLink, templatePicker } from "./compose_extras.js";
import { estimate, outgoing } from "./compose_x.js";
import { act, editable, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";
import { LABELS, channelName, channelPanel, groupProblems } from "./channels.js";
import { countFor, networkOf } from "./networks.js";
import { renderPreviews } from "./previews.js";
import { sendWithinBudget, showSpend } from "./spend.js";

const MAX_PARTS = 25;
const MAX_IMAGES = 4;
const MAX_ALT = 1000;
const MEDIA_TYPES = "image/png,image/jpeg,image/gif,image/webp,video/mp4,video/quicktime";

export async function render(root, ctx) {
  const wsTz = session.workspace?.timezone || "UTC";
  const errorBox = h("div", { id: "compose-errors" });
  const [campaigns, accounts] = await Promise.all([listAll(ws("/campaigns")).catch(() => []), listAll(ws("/x/accounts")).catch(() => [])]);
  let editing = ctx.params.get("post") ? await get(ws(`/posts/${encodeURIComponent(ctx.params.get("post"))}`)) : null;

  // -- state ------------------------------------------------------------------------
  // Media ride on the first post of a thread (X attaches them to one post).
  const texts = editing ? (editing.parts?.length ? editing.parts : [editing.text || ""]) : [""];
  const alts = editing?.media_alt || [];
  const parts = texts.map((text, i) => ({ text, media: i === 0 ? (editing?.media || []).map((id, j) => ({ id, alt: alts[j] || "" })) : [] }));
  await Promise.all(
    parts[0].media.map(async (m) => {
      const blob = await mediaBlob(m.id).catch(() => null);
      m.kind = blob?.type.startsWith("video/") ? "video" : "image";
      m.url = blob && m.kind === "image" ? URL.createObjectURL(blob) : null;
    }),
  );
  // Revoked once the view is gone; an estimate answering after that draws nothing (a
  // preview redrawn with revoked blob: URLs fails to load them).
  let gone = false;
  ctx.onLeave(() => {
    gone = true;
    parts.forEach((p) => p.media.forEach((m) => m.url && URL.revokeObjectURL(m.url)));
  });

  // -- controls ---------------------------------------------------------------------
  const campaignSel = h("select", { class: "form-select", id: "compose-campaign" }, h("option", { value: "" }, "— no campaign —"), campaigns.map((c) => h("option", { value: c.id }, c.name)));
  campaignSel.value = editing?.campaign_id || ctx.params.get("campaign") || "";
  const accountSel = h(
    "select",
    { class: "form-select", id: "compose-account" },
    accounts.length ? accounts.map((a) => h("option", { value: a.id }, channelName(a))) : h("option", { value: "" }, "no account connected: see Settings"),
  );
  if (editing?.account_id) accountSel.value = editing.account_id;
  const channels = channelPanel(
    accounts,
    accountSel,
    () => parts.map((p) => p.text),
    () => renderPreview(),
  );
  const partsBox = h("div", { id: "thread-parts" });
  const previewBox = h("div", { id: "tweet-preview" });
  const costBox = h("div", { id: "cost-estimate", class: "small text-body-secondary" });
  const spendBox = h("div", { id: "spend-panel", class: "small mt-2" });
  const linkInReply = h("input", { class: "form-check-input", type: "checkbox", id: "link-in-reply", checked: Boolean(editing?.link_in_reply) });
  const whenNow = h("input", { class: "form-check-input", type: "radio", name: "when", id: "when-now", value: "now" });
  const whenLater = h("input", { class: "form-check-input", type: "radio", name: "when", id: "when-later", value: "later", checked: true });
  const tzSel = zoneSelect({ id: "schedule-tz" }, editing?.timezone || wsTz);
  const inAnHour = new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000);
  // step=1: Herald posts at the second, so the picker offers seconds.
  const at = h("input", { class: "form-control", type: "datetime-local", step: 1, id: "schedule-at", value: utcToZoned(editing?.due_at || inAnHour, tzSel.value) });
  const utcHint = h("div", { class: "form-text", id: "schedule-utc" });
  const updateHint = () => {
    const instant = zonedToUtc(at.value, tzSel.value);
    utcHint.textContent = instant ? `= ${instant.toISOString().replace(".000Z", "Z")} UTC · your browser: ${instant.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })}` : "pick a date and time";
  };
  at.addEventListener("input", updateHint);
  tzSel.addEventListener("change", updateHint);
  updateHint();

  const primaryAccount = () => accounts.find((a) => a.id === accountSel.value);
  let serverOutgoing = null; // what the server says goes out ("link in first reply")
  function renderPreview() {
    if (gone) return;
    const account = primaryAccount();
    const sent = serverOutgoing || outgoing(parts.map((p) => p.text), linkInReply.checked);
    const shown = sent.map((text, i) => ({ text, media: i === 0 ? parts[0].media : [] }));
    // One preview per channel, as its network shows it: a variant replaces the whole text.
    const written = parts.map((p) => p.text);
    const others = channels.selected().slice(1).map((c) => {
      const texts = c.text ? [c.text] : outgoing(written, linkInReply.checked);
      return { account: accounts.find((a) => a.id === c.account_id), texts, linkReply: texts.length > written.length };
    });
    renderPreviews(previewBox, [{ account, texts: sent, linkReply: sent.length > parts.length }, ...others], parts[0].media);
    const est = estimate(shown, account);
    scheduleServerEstimate(account);
    channels.refresh();
    costBox.textContent = est
      ? `Estimated X cost: $${est.total.toFixed(3)} for ${parts.length} post${parts.length > 1 ? "s" : ""}${est.withUrl ? ` (${est.withUrl} with a link)` : ""}${est.images ? `, ${est.images} image${est.images > 1 ? "s" : ""}` : ""} · ${est.tier || est.model} tier${est.monthly ? ` (+ $${est.monthly}/month subscription)` : ""}`
      : "Estimated X cost: connect an X account (Settings) to see its pricing.";
  }

  let estimateTimer = null;
  function scheduleServerEstimate(account) {
    clearTimeout(estimateTimer);
    if (!account || !canEdit()) return;
    estimateTimer = setTimeout(async () => {
      const texts = parts.map((p) => p.text);
      if (!texts[0].trim()) return;
      try {
        const r = await post(ws("/posts/estimate"), { account_id: account.id, text: texts[0], parts: texts, media_count: parts[0].media.length, link_in_reply: linkInReply.checked });
        const n = r.outgoing.length;
        costBox.textContent = `Estimated X cost: $${Number(r.total_usd).toFixed(3)} for ${n} post${n > 1 ? "s" : ""}${r.parts_with_url ? ` (${r.parts_with_url} with a link)` : ""}${r.media_usd ? `, media $${Number(r.media_usd).toFixed(3)}` : ""} · ${account.tier} tier${r.monthly_usd ? ` (+ $${r.monthly_usd}/month subscription)` : ""}`;
        costBox.dataset.source = "server";
        if (JSON.stringify(r.outgoing) !== JSON.stringify(serverOutgoing)) {
          serverOutgoing = r.outgoing;
          renderPreview();
        }
      } catch {
        /* the local estimate stays */
      }
    }, 500);
  }

  async function refreshSpend() {
    const account = accounts.find((a) => a.id === accountSel.value);
    try {
      await showSpend(spendBox, account);
    } catch (exc) {
      clear(spendBox).append(h("span", { class: "text-body-secondary" }, "X spend unavailable: ", exc.message || String(exc)));
    }
  }

  function renderParts() {
    if (gone) return;
    clear(partsBox);
    parts.forEach((p, i) => {
      const ta = h("textarea", { class: "form-control tweet-input", id: `part-${i}`, rows: 4, "aria-label": `Post ${i + 1} text`, placeholder: i === 0 ? "What's happening?" : "Continue the thread…" });
      ta.value = p.text;
      const counter = h("span", { class: "counter small", id: `counter-${i}`, "aria-live": "polite" });
      const bar = h("div", { class: "progress mt-1", role: "progressbar", "aria-label": "length" }, h("div", { class: "progress-bar" }));
      const update = () => {
        p.text = ta.value;
        serverOutgoing = null;
        // Counted by the chosen channel's network (X's weights, Bluesky's graphemes, …).
        const r = countFor(primaryAccount(), ta.value);
        counter.textContent = `${r.length} / ${r.limit}${r.unit ? ` ${r.unit}` : ""}`;
        counter.dataset.weighted = String(r.length);
        counter.dataset.valid = r.valid ? "1" : "0";
        counter.classList.toggle("over", !r.valid && ta.value.length > 0);
        const bf = bar.firstChild;
        bf.className = `progress-bar ${r.length > r.limit ? "bg-danger" : r.length > r.limit * 0.93 ? "bg-warning" : ""}`;
        bf.style.width = `${Math.min(100, r.permillage / 10)}%`; // CSSOM, allowed by the CSP
        renderPreview();
      };
      ta.addEventListener("input", update);
      const upload = i > 0 ? null : h("input", { class: "form-control form-control-sm", type: "file", accept: MEDIA_TYPES, id: `media-${i}`, "aria-label": "Add an image, GIF or video" });
      const fromLibrary = i > 0 || !canEdit() ? null : libraryPicker(async (id) => {
        if (p.media.length >= MAX_IMAGES) return showError(errorBox, new Error(`A post can carry at most ${MAX_IMAGES} media items.`));
        if (p.media.some((m) => m.id === id)) return undefined;
        const blob = await mediaBlob(id).catch(() => null);
        const kind = blob?.type.startsWith("video/") ? "video" : "image";
        p.media.push({ id, alt: "", kind, url: blob && kind === "image" ? URL.createObjectURL(blob) : null });
        renderParts();
        return undefined;
      });
      upload?.addEventListener("change", async () => {
        const file = upload.files[0];
        if (!file) return;
        if (p.media.length >= MAX_IMAGES) {
          showError(errorBox, new Error(`A post can carry at most ${MAX_IMAGES} media items.`));
          return;
        }
        const form = new FormData();
        form.append("file", file);
        const media = await act(upload, () => request("POST", ws("/media"), form), { errorBox });
        if (media) {
          const kind = file.type.startsWith("video/") ? "video" : "image";
          p.media.push({ id: media.id, kind, alt: "", url: kind === "image" ? URL.createObjectURL(file) : null });
          renderParts();
        }
        upload.value = "";
      });
      const thumbs = h(
        "div",
        { class: "d-flex gap-2 flex-wrap mt-2" },
        p.media.map((m, j) => {
          // Alt text for every image and video: X shows it to people who cannot see them.
          const alt = h("input", { class: "form-control form-control-sm alt-text mt-1", id: `alt-${j}`, maxlength: MAX_ALT, value: m.alt || "", placeholder: "Alt text: describe it", "aria-label": `Alt text of media ${j + 1}` });
          alt.addEventListener("input", () => {
            m.alt = alt.value;
            alt.classList.toggle("is-warning", !alt.value.trim());
          });
          alt.classList.toggle("is-warning", !alt.value.trim());
          return h(
            "div",
            { class: "media-item", dataset: { kind: m.kind || "image" } },
            h(
              "div",
              { class: "position-relative d-inline-block" },
              m.url ? h("img", { class: "thumb", src: m.url, alt: m.alt || "image" }) : h("span", { class: "badge text-bg-secondary media-badge" }, icon(m.kind === "video" ? "film" : "image"), m.kind || "media"),
              editable(h("button", { type: "button", class: "btn btn-sm btn-danger position-absolute top-0 end-0", "aria-label": "Remove media", onclick: () => { p.media.splice(j, 1); renderParts(); } }, icon("x"))),
            ),
            alt,
          );
        }),
      );
      // Reorder: media stay with the thread's first post.
      const move = (delta) => {
        const j = i + delta;
        [parts[i].text, parts[j].text] = [parts[j].text, parts[i].text];
        renderParts();
        partsBox.querySelector(`#part-${j}`)?.focus();
      };
      const up = i > 0 ? editable(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": `Move post ${i + 1} up`, onclick: () => move(-1) }, icon("arrow-up"))) : null;
      const down = i < parts.length - 1 ? editable(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": `Move post ${i + 1} down`, onclick: () => move(1) }, icon("arrow-down"))) : null;
      const remove = parts.length > 1 ? editable(h("button", { type: "button", class: "btn btn-sm btn-outline-danger", onclick: () => { parts.splice(i, 1); renderParts(); } }, icon("trash"), "Remove")) : null;
      partsBox.append(
        h(
          "div",
          { class: "thread-part card mb-2" },
          h("div", { class: "card-body" }, h("div", { class: "d-flex align-items-center mb-1" }, h("span", { class: "small text-body-secondary me-auto" }, parts.length > 1 ? `Post ${i + 1} of ${parts.length}` : "Post"), counter), ta, bar, h("div", { class: "d-flex gap-2 mt-2 align-items-center flex-wrap" }, canEdit() ? upload : null, fromLibrary, i > 0 ? h("span", { class: "small text-body-secondary" }, "images go on the first post") : null, h("span", { class: "ms-auto d-flex gap-1" }, up, down, remove)), thumbs),
        ),
      );
      update();
    });
  }

  const addPart = editable(h("button", { type: "button", class: "btn btn-outline-primary btn-sm", id: "add-part" }, icon("plus-lg"), "Add to thread"));
  addPart.addEventListener("click", () => {
    if (parts.length >= MAX_PARTS) return;
    parts.push({ text: "", media: [] });
    renderParts();
    partsBox.querySelector(`#part-${parts.length - 1}`)?.focus();
  });
  accountSel.addEventListener("change", () => {
    renderParts(); // the counters follow the channel's network
    refreshSpend();
  });
  linkInReply.addEventListener("change", () => {
    serverOutgoing = null;
    renderPreview();
  });

  function body(schedule) {
    if (!accountSel.value) throw new Error("Connect an X account (or add a sandbox account) in Settings first.");
    const payload = {
      campaign_id: campaignSel.value || null,
      account_id: accountSel.value,
      text: parts[0].text,
      parts: parts.map((p) => p.text),
      media: parts[0].media.map((m) => m.id),
      media_alt: parts[0].media.map((m) => (m.alt || "").trim()),
      link_in_reply: linkInReply.checked,
      timezone: tzSel.value,
    };
    if (schedule) {
      const instant = whenNow.checked ? new Date() : zonedToUtc(at.value, tzSel.value);
      if (!instant) throw new Error("Pick the date and time to publish.");
      payload.due_at = instant.toISOString();
    }
    return payload;
  }

  // In the zone the post was scheduled in (the composer's), as the rest of the page shows times.
  const scheduledAt = (saved) => {
    const zone = saved.timezone || tzSel.value;
    return `${fmtDate(saved.due_at || Date.now(), zone)} (${zone})`;
  };

  async function save(schedule, button) {
    const group = !editing && channels.isGroup();
    // Several channels: the server checks each with its own rules and lists the problems.
    const account = primaryAccount();
    const over = group ? -1 : parts.findIndex((p) => !countFor(account, p.text).valid);
    if (over >= 0) {
      const r = countFor(account, parts[over].text);
      showError(errorBox, new Error(parts[over].text.trim() ? `Post ${over + 1} is too long for ${LABELS[networkOf(account)]} (${r.length} / ${r.limit}).` : `Post ${over + 1} is empty.`));
      return;
    }
    const done = (saved) => {
      if (!saved) return;
      toast(schedule ? `Scheduled for ${scheduledAt(saved)}` : "Draft saved");
      location.hash = schedule ? "#/history" : `#/compose?post=${encodeURIComponent(saved.id)}`;
    };
    if (group) return saveGroup(schedule, button);
    await act(
      button,
      async () => {
        const payload = body(false);
        const p = editing ? await patch(ws(`/posts/${encodeURIComponent(editing.id)}`), payload) : await post(ws("/posts"), payload);
        editing = p; // a second click edits the same post instead of creating another
        if (!schedule) return done(p);
        const { due_at: dueAt, timezone } = body(true);
        // Past a budget that asks: the reason and "Schedule anyway" appear in errorBox.
        const path = ws(`/posts/${encodeURIComponent(p.id)}/schedule`);
        return sendWithinBudget(errorBox, (confirm) => post(path, { due_at: dueAt, timezone, confirm_over_budget: confirm }), done);
      },
      { errorBox },
    );
  }

  // One post per channel, all or none (POST .../post-groups); a refusal lists each
  // network's problems.
  async function saveGroup(schedule, button) {
    await act(
      button,
      async () => {
        const shared = body(schedule);
        delete shared.account_id; // the channels name the accounts
        const send = (confirm) => post(ws("/post-groups"), { ...shared, channels: channels.selected(), schedule, confirm_over_budget: confirm });
        const shown = (g) => {
          if (!g) return;
          toast(`${schedule ? `Scheduled for ${scheduledAt(g)}` : "Drafts saved"} on ${g.posts.length} channels`);
          location.hash = "#/history";
        };
        try {
          return await (schedule ? sendWithinBudget(errorBox, send, shown) : send(false).then(shown));
        } catch (exc) {
          const list = groupProblems(exc.details);
          if (!list) throw exc;
          showError(errorBox, exc).append(list);
        }
      },
      { errorBox },
    );
  }

  const checkBox = h("div", { id: "compose-check", class: "mt-2" });
  const saveDraft = editable(h("button", { type: "button", class: "btn btn-outline-secondary", id: "save-draft" }, icon("save"), "Save draft"));
  const schedule = editable(h("button", { type: "button", class: "btn btn-primary", id: "schedule-post" }, icon("calendar-check"), "Schedule"));
  saveDraft.addEventListener("click", () => save(false, saveDraft));
  schedule.addEventListener("click", () => save(true, schedule));
  whenNow.addEventListener("change", () => (schedule.lastChild.textContent = "Post now"));
  whenLater.addEventListener("change", () => (schedule.lastChild.textContent = "Schedule"));

  root.append(
    pageHeader(editing ? "Edit post" : "Compose"),
    viewerNotice(),
    errorBox,
    h(
      "div",
      { class: "row g-4" },
      h(
        "div",
        { class: "col-lg-7" },
        lockForViewer(
          h(
            "fieldset",
            {},
            h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Campaign", campaignSel)), h("div", { class: "col-md-6" }, field("Channel", accountSel))),
            h("div", { class: "mb-2" }, h("div", { class: "small fw-semibold mb-1" }, "Also post to"), channels.element),
            canEdit()
              ? templatePicker((text) => {
                  parts[0].text = text;
                  renderParts();
                }, errorBox)
              : null,
            partsBox,
            h("div", { class: "d-flex align-items-center gap-3 flex-wrap" }, addPart, h("div", { class: "form-check mb-0" }, linkInReply, h("label", { class: "form-check-label", for: "link-in-reply" }, "Link in first reply"), h("div", { class: "form-text mt-0" }, "The main post goes out without its links; a reply right under it carries them."))),
            card(
              "When",
              h(
                "div",
                {},
                h("div", { class: "mb-2" }, h("div", { class: "form-check form-check-inline" }, whenLater, h("label", { class: "form-check-label", for: "when-later" }, "At a time")), h("div", { class: "form-check form-check-inline" }, whenNow, h("label", { class: "form-check-label", for: "when-now" }, "As soon as possible"))),
                h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Date and time", at)), h("div", { class: "col-md-6" }, field("Timezone", tzSel))),
                utcHint,
              ),
            ),
            h("div", { class: "d-flex gap-2 mt-3 flex-wrap" }, saveDraft, schedule, editing ? checkButton(editing.id, checkBox) : null, canEdit() ? seriesLink(() => ({ texts: parts.map((p) => p.text), account_id: accountSel.value, campaign_id: campaignSel.value, timezone: tzSel.value })) : null),
            checkBox,
          ),
        ),
      ),
      h("div", { class: "col-lg-5" }, card("Preview", h("div", {}, previewBox, h("hr"), costBox, spendBox))),
    ),
  );
  renderParts();
  await refreshSpend();
}
