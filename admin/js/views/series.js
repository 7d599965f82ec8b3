// Recurring and evergreen series: a post on a cadence (every N hours, daily, weekly),
// rotating its text variants, on one account or several channels of any network (each
// occurrence a post group); Herald schedules each occurrence a day ahead. Each variant's
// counter is the strictest chosen network's (the server checks every one on save).
import { canEdit, del, listAll, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { utcToZoned, zonedToUtc } from "../time.js";
import { act, editable, exportButton, lockForViewer, pageHeader, toast, viewerNotice } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { LABELS, channelName, channelPicker } from "./channels.js";
import { SERIES_SEED } from "./compose_extras.js";
import { counterText, strictestCount } from "./networks.js";

const SEPARATOR = /\n-{3,}\n/;

function seed() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SERIES_SEED) || "null");
    sessionStorage.removeItem(SERIES_SEED);
    return value;
  } catch {
    return null;
  }
}

export async function render(root) {
  const [accounts, campaigns] = await Promise.all([listAll(ws("/x/accounts")).catch(() => []), listAll(ws("/campaigns")).catch(() => [])]);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const named = (id) => (byId.has(id) ? channelName(byId.get(id)) : id);
  const names = new Map(campaigns.map((c) => [c.id, c.name]));
  const from = seed(); // text handed over by the composer's "Repeat as a series"
  const errorBox = h("div");
  const listBox = h("div", { id: "series-list" });
  const tz0 = from?.timezone || session.workspace?.timezone || "UTC";
  const name = h("input", { class: "form-control", id: "series-name", required: true, maxlength: 200 });
  const account = selectDefault(h("select", { class: "form-select", id: "series-account", required: true }, accounts.filter((a) => a.status === "active").map((a) => h("option", { value: a.id }, channelName(a)))), from?.account_id || accounts.find((a) => a.status === "active")?.id || "");
  const campaign = selectDefault(h("select", { class: "form-select", id: "series-campaign" }, h("option", { value: "" }, "— no campaign —"), campaigns.map((c) => h("option", { value: c.id }, c.name))), from?.campaign_id || "");
  const kind = selectDefault(h("select", { class: "form-select", id: "series-kind" }, [["recurring", "recurring: until an end date"], ["evergreen", "evergreen: recycled, no end needed"]].map(([v, l]) => h("option", { value: v }, l))), "recurring");
  const texts = h("textarea", { class: "form-control", id: "series-texts", rows: 5, required: true, value: (from?.texts || []).filter(Boolean).join("\n---\n") });
  const counters = h("div", { id: "series-counters", class: "d-flex flex-wrap gap-2 small mb-3", "aria-live": "polite" });
  const channels = channelPicker(accounts, () => account.value, { id: "series-channels", onChange: () => count() });
  const count = () => {
    const chosen = [account.value, ...channels.selected()].map((id) => byId.get(id)).filter(Boolean);
    const variants = texts.value.split(SEPARATOR).map((t) => t.trim()).filter(Boolean);
    clear(counters).append(
      ...variants.map((t, i) => {
        const c = strictestCount(chosen, t);
        return h("span", { class: `badge series-counter ${c.valid ? "text-bg-light border" : "text-bg-danger"}`, dataset: { network: c.network, valid: c.valid ? "1" : "0" } }, `text ${i + 1}: ${counterText(c)}${chosen.length > 1 ? ` (${LABELS[c.network]})` : ""}`);
      }),
    );
  };
  texts.addEventListener("input", count);
  account.addEventListener("change", () => {
    channels.redraw();
    count();
  });
  count();
  const tz = zoneSelect({ id: "series-tz" }, tz0);
  const tomorrow = new Date(Math.ceil(Date.now() / 3600_000) * 3600_000 + 86_400_000);
  const start = h("input", { class: "form-control", type: "datetime-local", step: 1, id: "series-start", required: true, value: utcToZoned(tomorrow, tz0) });
  const end = h("input", { class: "form-control", type: "datetime-local", step: 1, id: "series-end", value: utcToZoned(new Date(tomorrow.getTime() + 30 * 86_400_000), tz0) });
  const every = selectDefault(h("select", { class: "form-select", id: "series-every" }, ["daily", "weekly", "hours"].map((x) => h("option", { value: x }, x === "hours" ? "every N hours" : x))), "daily");
  const hours = h("input", { class: "form-control", type: "number", min: 1, max: 168, value: 24, id: "series-hours" });
  const syncHours = () => (hours.disabled = every.value !== "hours");
  every.addEventListener("change", syncHours);
  syncHours();
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit", id: "series-create" }, icon("arrow-repeat"), "Create series"));
  const form = h(
    "form",
    { id: "series-form", novalidate: true },
    lockForViewer(
      h(
        "fieldset",
        {},
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Name", name)), h("div", { class: "col-md-4" }, field("Account", account)), h("div", { class: "col-md-4" }, field("Campaign", campaign))),
        h("fieldset", { class: "mb-3" }, h("legend", { class: "form-label fs-6 mb-1" }, "Also post to"), channels.element),
        field("Text variants", texts, "One or more variants, separated by a line of ---; each occurrence takes the next one. Each must fit every chosen network."),
        counters,
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Kind", kind)), h("div", { class: "col-md-4" }, field("Repeats", every)), h("div", { class: "col-md-4" }, field("Every (hours)", hours))),
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("First post", start)), h("div", { class: "col-md-4" }, field("Ends", end, "Required for a recurring series.")), h("div", { class: "col-md-4" }, field("Timezone", tz))),
        submit,
      ),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const startAt = zonedToUtc(start.value, tz.value);
    const endAt = end.value ? zonedToUtc(end.value, tz.value) : null;
    const body = {
      name: name.value.trim(),
      account_id: account.value,
      channels: channels.selected(),
      campaign_id: campaign.value || null,
      kind: kind.value,
      texts: texts.value.split(SEPARATOR).map((t) => t.trim()).filter(Boolean),
      start_at: startAt ? startAt.toISOString() : "",
      end_at: endAt ? endAt.toISOString() : null,
      every: every.value,
      every_hours: Number(hours.value),
      timezone: tz.value,
    };
    const created = await act(submit, () => post(ws("/series"), body), { errorBox });
    if (created) {
      toast(`Series “${created.name}” created; ${(created.posts || []).length} post(s) scheduled for the next 24 h`);
      form.reset();
      channels.reset([]);
      syncHours();
      count();
      await refresh();
    }
  });

  async function refresh() {
    const items = await listAll(ws("/series"));
    clear(listBox).append(
      table(
        ["Series", "Cadence", "Next", "Ends", "State", ""],
        items.map((s) => {
          const now = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-primary" }, icon("calendar-plus"), "Schedule next 24 h"));
          now.addEventListener("click", () => act(now, () => post(ws(`/series/${encodeURIComponent(s.id)}/materialize`), {}), { errorBox }).then((r) => r && (toast(`${r.length} post(s) scheduled`), refresh())));
          const stop = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-danger" }, icon("stop-circle"), "Stop"));
          stop.addEventListener("click", () => act(stop, () => del(ws(`/series/${encodeURIComponent(s.id)}`)), { errorBox, done: "Series stopped (posts already scheduled stay)" }).then(refresh));
          return h(
            "tr",
            { dataset: { id: s.id } },
            h("td", {}, h("div", { class: "fw-semibold" }, s.name), h("div", { class: "small text-body-secondary series-channels" }, `${[s.account_id, ...(s.channels || [])].map(named).join(", ")}${s.campaign_id ? ` · ${names.get(s.campaign_id) || ""}` : ""} · ${(s.texts || []).length} variant(s)`)),
            h("td", { class: "small" }, s.kind, " · ", s.every === "hours" ? `every ${s.every_hours} h` : s.every),
            h("td", { class: "small" }, s.active ? fmtDate(s.next_at, s.timezone) : "–"),
            h("td", { class: "small" }, s.end_at ? fmtDate(s.end_at, s.timezone) : "never"),
            h("td", {}, statusBadge(s.active ? "active" : "ended"), s.last_error ? h("div", { class: "small text-danger" }, s.last_error.reason) : null),
            h("td", { class: "text-nowrap" }, s.active && canEdit() ? h("div", { class: "d-flex gap-1" }, now, stop) : null),
          );
        }),
        "No series yet.",
      ),
    );
  }
  if (!accounts.length) root.append(pageHeader("Series"), h("div", { class: "alert alert-info" }, "Connect an account (X, Bluesky or Mastodon, or add a sandbox account) in ", h("a", { href: "#/settings" }, "Settings"), " first."));
  else root.append(pageHeader("Series"), viewerNotice(), errorBox, canEdit() ? card("New series", form) : h("span"), card("Series", listBox, exportButton("series")));
  await refresh();
}
