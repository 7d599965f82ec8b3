// Email → Campaigns: the composer (from a template or blank; HTML preview in a sandboxed
// iframe; text part; the footer every message gets; the template variables) with
// scheduling to the second, and the campaigns with their live progress.
import { get, listAll, patch, post, session } from "../api.js";
import { card, clear, field, fmtDate, fmtNumber, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { utcToZoned, zonedToUtc } from "../time.js";
import { act, editable, exportButton, lockForViewer, toast } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { P, htmlPreview } from "./email.js";
import { variablesHelp } from "./email_templates.js";

const SAMPLE_HTML = '<h1>Hello {{ first_name | default("there") }}</h1>\n<p>Write your message here.</p>\n<p><a href="https://example.com">Read more</a></p>';
const SAMPLE_TEXT = 'Hello {{ first_name | default("there") }},\n\nWrite your message here.\n\nRead more: https://example.com';

/** What the footer will say, and a warning when the postal address is missing. */
function footerNotice(smtp) {
  const address = (smtp?.postal_address || "").replaceAll("\n", ", ");
  const preview = h("div", { class: "footer-preview text-body-secondary", id: "email-footer-preview" }, "Added at the end of every message, unless the template places them itself: ", address ? `“${address}” · ` : "", h("span", { class: "text-decoration-underline" }, "Unsubscribe"), " (the recipient's one-click link).");
  if (address) return { preview, warning: h("span", { class: "d-none" }) };
  const sandbox = Boolean(smtp?.sandbox);
  const warning = h(
    "div",
    { class: `alert ${sandbox ? "alert-info" : "alert-warning"} py-2`, id: "email-postal-warning" },
    icon("signpost-split"),
    sandbox
      ? " The sender's postal address is not set. The local sandbox sink sends without it; a real SMTP server will not: the law (CAN-SPAM) requires it in every message. "
      : " Set the sender's postal address before sending: the law (CAN-SPAM) requires it in every message, and Herald refuses to send without it. ",
    h("a", { class: "alert-link", href: "#/email/smtp" }, "SMTP settings"),
  );
  return { preview, warning };
}

export async function render(root, ctx) {
  const errorBox = h("div");
  const [lists, templates, smtp] = await Promise.all([listAll(P.lists()).catch(() => []), listAll(P.templates()).catch(() => []), get(P.settings()).catch(() => null)]);
  // ?edit=<id>: a draft opened again from its page (PATCH instead of a new campaign).
  const editing = ctx.params.get("edit") ? await get(P.campaign(ctx.params.get("edit"))) : null;
  const listBox = h("div", { id: "email-campaigns" });
  const tzName = session.workspace?.timezone || "UTC";
  const refresh = async () => {
    const items = await listAll(P.campaigns());
    clear(listBox).append(
      table(
        ["Name", "Subject", "Status", "Scheduled", "Progress"],
        items.map((c) => {
          const p = c.progress || c;
          const total = Number(p.total ?? p.recipients ?? 0);
          const done = Number(p.sent ?? 0) + Number(p.failed ?? 0);
          return h(
            "tr",
            { dataset: { id: c.id } },
            h("td", {}, h("a", { href: `#/email/campaign/${encodeURIComponent(c.id)}`, class: "email-campaign-link" }, c.name)),
            h("td", { class: "wrap" }, c.subject || ""),
            h("td", {}, statusBadge(c.status)),
            h("td", { class: "small" }, fmtDate(c.scheduled_at || c.send_at, c.timezone || tzName)),
            h("td", { class: "small" }, total ? `${fmtNumber(done)} / ${fmtNumber(total)}` : "–"),
          );
        }),
        "No email campaigns yet.",
      ),
    );
  };

  // Composer
  const fromTemplate = selectDefault(h("select", { class: "form-select", id: "email-template" }, h("option", { value: "" }, "— blank —"), templates.map((t) => h("option", { value: t.id }, t.name))), ctx.params.get("template") || "");
  const name = h("input", { class: "form-control", id: "email-name", maxlength: 200, required: true, value: editing?.name || "" });
  const subject = h("input", { class: "form-control", id: "email-subject", maxlength: 998, required: true, value: editing?.subject || "" });
  const listSel = h("select", { class: "form-select", id: "email-list", required: true }, h("option", { value: "" }, "— choose a list —"), lists.map((l) => h("option", { value: l.id }, `${l.name} (${fmtNumber(l.contact_count ?? 0)})`)));
  if (editing) selectDefault(listSel, editing.list_id || "");
  const html = h("textarea", { class: "form-control font-monospace", id: "email-html", rows: 12, spellcheck: "false", required: true, value: editing ? editing.html || "" : SAMPLE_HTML });
  const text = h("textarea", { class: "form-control font-monospace", id: "email-text", rows: 6, value: editing ? editing.text || "" : SAMPLE_TEXT });
  const previewBox = h("div", { id: "email-preview-box" });
  // Scrollable: focusable so it scrolls from the keyboard too.
  const textBox = h("div", { class: "text-part border rounded p-2", id: "email-text-preview", tabindex: 0, role: "region", "aria-label": "Text part preview" });
  const { preview: footerPreview, warning } = footerNotice(smtp);
  const drawPreview = () => {
    clear(previewBox).append(htmlPreview(html.value));
    textBox.textContent = text.value;
  };
  let timer = null;
  html.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(drawPreview, 250);
  });
  text.addEventListener("input", () => (textBox.textContent = text.value));
  const applyTemplate = () => {
    const t = templates.find((x) => x.id === fromTemplate.value);
    if (!t) return;
    subject.value = t.subject || "";
    html.value = t.html || "";
    text.value = t.text || "";
    if (!name.value.trim()) name.value = t.name;
    drawPreview();
  };
  fromTemplate.addEventListener("change", applyTemplate);
  const tz = zoneSelect({ id: "email-tz" }, tzName);
  const when = h("input", { class: "form-control", type: "datetime-local", step: 1, id: "email-at", value: utcToZoned(new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000), tzName) });
  const saveBtn = editable(h("button", { class: "btn btn-outline-secondary", type: "button", id: "email-save" }, icon("save"), "Save draft"));
  const scheduleBtn = editable(h("button", { class: "btn btn-outline-primary", type: "button", id: "email-schedule" }, icon("calendar-check"), "Schedule"));
  const sendBtn = editable(h("button", { class: "btn btn-primary", type: "button", id: "email-send" }, icon("send"), "Send now"));
  const asTemplate = editable(h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", id: "email-as-template" }, icon("file-earmark-plus"), "Save as template"));
  const trackOpens = h("input", { class: "form-check-input", type: "checkbox", id: "email-track-opens", checked: editing ? editing.track_opens : true });
  const trackClicks = h("input", { class: "form-check-input", type: "checkbox", id: "email-track-clicks", checked: editing ? editing.track_clicks : true });
  const localHour = h("input", { class: "form-check-input", type: "checkbox", id: "email-local-hour" });
  const payload = () => ({
    name: name.value.trim(),
    subject: subject.value.trim(),
    list_id: listSel.value || null,
    html: html.value,
    text: text.value,
    track_opens: trackOpens.checked,
    track_clicks: trackClicks.checked,
    ...(editing ? {} : { template_id: fromTemplate.value || null }), // set on create only
  });
  asTemplate.addEventListener("click", () => act(asTemplate, () => post(P.templates(), { name: name.value.trim() || subject.value.trim() || "Untitled", subject: subject.value, html: html.value, text: text.value }), { errorBox, done: "Saved as an email template" }));
  const create = async (mode, button) => {
    const c = await act(
      button,
      async () => {
        const at = mode === "later" ? zonedToUtc(when.value, tz.value) : new Date();
        if (mode === "later" && !at) throw new Error("Pick the date and time to send.");
        const created = editing ? await patch(P.campaign(editing.id), payload()) : await post(P.campaigns(), payload());
        if (mode === "draft") return created;
        // A refusal here (no postal address, say) leaves the draft, listed below.
        const schedule = { at: at.toISOString(), timezone: tz.value };
        // "This hour in each recipient's zone": the hour of the chosen time, on that date.
        if (mode === "later" && localHour.checked) schedule.local_hour = Number(when.value.slice(11, 13));
        return post(`${P.campaign(created.id)}/schedule`, schedule);
      },
      { errorBox },
    );
    if (c) {
      toast(mode === "now" ? "Sending started" : mode === "later" ? "Campaign scheduled" : "Draft saved");
      location.hash = `#/email/campaign/${encodeURIComponent(c.id)}`;
    } else await refresh();
  };
  saveBtn.addEventListener("click", () => create("draft", saveBtn));
  scheduleBtn.addEventListener("click", () => create("later", scheduleBtn));
  sendBtn.addEventListener("click", () => create("now", sendBtn));

  const composer = lockForViewer(
    h(
      "fieldset",
      { id: "email-composer" },
      warning,
      h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Start from", fromTemplate)), h("div", { class: "col-md-8" }, field("Name", name, "For you; recipients do not see it."))),
      h("div", { class: "row" }, h("div", { class: "col-md-8" }, field("Subject", subject)), h("div", { class: "col-md-4" }, field("Recipients", listSel))),
      variablesHelp(),
      h(
        "div",
        { class: "row g-3" },
        h("div", { class: "col-lg-6" }, field("HTML part", html, "Variables such as {{ first_name }} are filled per contact. Links are tracked. A footer with your postal address and an unsubscribe link is added unless you place {{ unsubscribe_url }} and {{ postal_address }} yourself.")),
        h("div", { class: "col-lg-6" }, h("div", { class: "form-label" }, "HTML preview (sandboxed, scripts off)"), previewBox, footerPreview),
      ),
      h("div", { class: "row g-3" }, h("div", { class: "col-lg-6" }, field("Text part", text, "Leave empty to derive it from the HTML; the same footer is added.")), h("div", { class: "col-lg-6" }, h("div", { class: "form-label", id: "email-text-preview-label" }, "Text preview"), textBox)),
      h("div", { class: "mb-3" }, h("div", { class: "form-check form-check-inline" }, trackOpens, h("label", { class: "form-check-label", for: "email-track-opens" }, "Track opens")), h("div", { class: "form-check form-check-inline" }, trackClicks, h("label", { class: "form-check-label", for: "email-track-clicks" }, "Track clicks")), asTemplate),
      h("div", { class: "row align-items-end" }, h("div", { class: "col-md-4" }, field("Send at", when)), h("div", { class: "col-md-4" }, field("Timezone", tz)), h("div", { class: "col-md-4 mb-3 d-flex gap-2 flex-wrap" }, saveBtn, scheduleBtn, sendBtn)),
      h("div", { class: "form-check mb-2" }, localHour, h("label", { class: "form-check-label", for: "email-local-hour" }, "Schedule: send at that hour in each recipient's own timezone (contacts without one use the zone above)")),
    ),
  );
  root.append(errorBox, card(editing ? `Edit draft “${editing.name}”` : "New email campaign", composer), card("Campaigns", listBox, exportButton("email_campaigns")));
  if (!editing) applyTemplate();
  drawPreview();
  await ctx.every(refresh, 5000);
}
