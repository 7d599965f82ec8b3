// Calendar (week and month) of scheduled and published posts; drag a post to another day
// to reschedule it (same wall-clock time, in the workspace's timezone); the month's X
// spend against the budgets, with "schedule anyway" past one that asks. A post written
// for several channels is one item with each network's result (./calendar_items.js).
import { canEdit, listAll, post, session, ws } from "../api.js";
import { clear, h, icon } from "../dom.js";
import { dayKey, utcToZoned, zonedToUtc } from "../time.js";
import { act, exportButton, pageHeader, toast } from "../ui.js";
import { entries, entryElement } from "./calendar_items.js";
import { sendWithinBudget, showSpend } from "./spend.js";

const DAY_MS = 86_400_000;

function startOfWeek(key) {
  const d = new Date(`${key}T12:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7; // Monday first
  return new Date(d.getTime() - dow * DAY_MS).toISOString().slice(0, 10);
}

function addDays(key, n) {
  return new Date(new Date(`${key}T12:00:00Z`).getTime() + n * DAY_MS).toISOString().slice(0, 10);
}

export async function render(root, ctx) {
  const tz = session.workspace?.timezone || "UTC";
  let mode = ctx.params.get("view") === "week" ? "week" : "month";
  let anchor = ctx.params.get("date") || dayKey(new Date(), tz);
  const grid = h("div", { id: "calendar-grid" });
  const spendBox = h("div", { id: "calendar-spend", class: "small mt-2" });
  const label = h("span", { class: "fw-semibold", id: "calendar-label" });
  const errorBox = h("div");
  const modeBtn = (m, text) => {
    const b = h("button", { type: "button", class: `btn btn-sm ${mode === m ? "btn-primary" : "btn-outline-primary"}`, id: `cal-${m}` }, text);
    b.addEventListener("click", () => {
      mode = m;
      draw();
    });
    return b;
  };
  const nav = (n) => {
    anchor = mode === "week" ? addDays(anchor, 7 * n) : shiftMonth(anchor, n);
    draw();
  };
  const controls = h("div", { class: "d-flex gap-2 align-items-center flex-wrap" });

  async function draw() {
    clear(controls).append(
      h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": "Previous", onclick: () => nav(-1) }, icon("chevron-left")),
      h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", onclick: () => ((anchor = dayKey(new Date(), tz)), draw()) }, "Today"),
      h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": "Next", onclick: () => nav(1) }, icon("chevron-right")),
      label,
      h("div", { class: "btn-group", role: "group", "aria-label": "Calendar view" }, modeBtn("week", "Week"), modeBtn("month", "Month")),
    );
    let first;
    let days;
    if (mode === "week") {
      first = startOfWeek(anchor);
      days = 7;
      label.textContent = `Week of ${new Date(`${first}T12:00:00Z`).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" })}`;
    } else {
      const monthStart = `${anchor.slice(0, 7)}-01`;
      first = startOfWeek(monthStart);
      const lastOfMonth = addDays(shiftMonth(monthStart, 1), -1);
      days = Math.ceil(((new Date(`${lastOfMonth}T12:00:00Z`) - new Date(`${first}T12:00:00Z`)) / DAY_MS + 1) / 7) * 7;
      label.textContent = new Date(`${monthStart}T12:00:00Z`).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
    }
    const from = zonedToUtc(`${first}T00:00`, tz);
    const to = zonedToUtc(`${addDays(first, days)}T00:00`, tz);
    let items = [];
    try {
      items = await listAll(ws("/calendar"), { start: from.toISOString(), end: to.toISOString(), limit: 200 });
    } catch (exc) {
      clear(errorBox);
      const { showError } = await import("../ui.js");
      showError(errorBox, exc);
    }
    const byDay = new Map();
    for (const p of items) {
      const when = p.published_at || p.due_at;
      if (!when) continue;
      const k = dayKey(when, tz);
      if (!byDay.has(k)) byDay.set(k, []);
      byDay.get(k).push(p);
    }
    const today = dayKey(new Date(), tz);
    const cells = [];
    for (const name of ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]) cells.push(h("div", { class: "cal-head" }, name));
    for (let i = 0; i < days; i += 1) {
      const key = addDays(first, i);
      const cell = h("div", { class: `cal-day${key === today ? " today" : ""}${mode === "month" && key.slice(0, 7) !== anchor.slice(0, 7) ? " other-month" : ""}`, dataset: { day: key } }, h("div", { class: "cal-date" }, String(Number(key.slice(8)))));
      for (const entry of entries(byDay.get(key) || [])) {
        const { item, drag } = entryElement(entry, tz, canEdit());
        if (drag) item.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", JSON.stringify(drag)));
        cell.append(item);
      }
      if (canEdit()) {
        cell.addEventListener("dragover", (e) => {
          e.preventDefault();
          cell.classList.add("drop-target");
        });
        cell.addEventListener("dragleave", () => cell.classList.remove("drop-target"));
        cell.addEventListener("drop", async (e) => {
          e.preventDefault();
          cell.classList.remove("drop-target");
          let moved;
          try {
            moved = JSON.parse(e.dataTransfer.getData("text/plain"));
          } catch {
            return;
          }
          const time = utcToZoned(moved.when, tz).slice(11);
          const due = zonedToUtc(`${key}T${time}`, tz);
          if (due.getTime() === new Date(moved.when).getTime()) return;
          // A post group moves as one: every channel's post, all or none.
          const path = moved.group ? ws(`/post-groups/${encodeURIComponent(moved.group)}/schedule`) : ws(`/posts/${encodeURIComponent(moved.id)}/${moved.status === "scheduled" ? "reschedule" : "schedule"}`);
          const onDone = () => {
            toast(`Moved to ${key} ${time}`);
            draw();
          };
          // Into a month past its budget: the reason and "Schedule anyway" show in errorBox.
          await act(null, () => sendWithinBudget(errorBox, (confirm) => post(path, { due_at: due.toISOString(), timezone: tz, confirm_over_budget: confirm }), onDone), { errorBox });
        });
      }
      cells.push(cell);
    }
    clear(grid).append(h("div", { class: `cal-grid${mode === "week" ? " cal-week" : ""}` }, cells));
    showSpend(spendBox, null, anchor.slice(0, 7)).catch(() => clear(spendBox));
  }

  root.append(pageHeader("Calendar", h("span", { class: "small text-body-secondary" }, `times in ${tz}`), exportButton("posts")), controls, spendBox, errorBox, h("div", { class: "mt-3" }, grid));
  if (canEdit()) root.append(h("p", { class: "small text-body-secondary mt-2" }, icon("arrows-move"), " Drag a scheduled post to another day to move it."));
  await draw();
}

function shiftMonth(key, n) {
  const y = Number(key.slice(0, 4));
  const m = Number(key.slice(5, 7)) - 1 + n;
  const d = new Date(Date.UTC(y, m, 1));
  return d.toISOString().slice(0, 10);
}
