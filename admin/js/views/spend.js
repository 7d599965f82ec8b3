// The X cost governor on the page: the month's spend against the budgets (composer,
// calendar, settings) and "schedule anyway" past a budget that asks for confirmation.
import { ApiError, get, ws } from "../api.js";
import { clear, h, icon } from "../dom.js";

const usd = (v) => (v === null || v === undefined ? "none" : `$${Number(v).toFixed(2)}`);

function line(label, s) {
  const over = s.budget_usd !== null && s.budget_usd !== undefined && s.committed_usd > s.budget_usd;
  return h(
    "div",
    { class: `spend-line${over ? " text-warning" : ""}`, dataset: { scope: label.toLowerCase().startsWith("@") ? "account" : "workspace", over: over ? "1" : "0" } },
    h("strong", {}, label),
    ` · spent ${usd(s.spent_usd)} · committed ${usd(s.committed_usd)} · projected ${usd(s.projected_usd)} · budget ${usd(s.budget_usd)}`,
    s.budget_usd !== null && s.budget_usd !== undefined ? ` (${s.on_exceed === "refuse" ? "refuses" : "asks"} past it)` : "",
  );
}

/** Fills `box` with a month's X spend (default: this one): the workspace's and, with an
 * account, its own. */
export async function showSpend(box, account, month) {
  const r = await get(ws("/x/spend"), { account_id: account?.id || undefined, month: month || undefined });
  clear(box).append(
    h("div", { class: "small text-body-secondary mb-1" }, icon("cash-coin"), ` X spend in ${r.month} (UTC), counted from the calls made`),
    line("Workspace", r.workspace),
    r.account ? line(`@${account.handle || ""}`, r.account) : null,
  );
  return r;
}

/**
 * Runs `send(confirm)` (a schedule or reschedule). Past a budget that asks, shows the
 * reason in `box` with a "Schedule anyway" button that sends again with confirm = true;
 * resolves to what the (second) send returned, or undefined while waiting.
 */
export async function sendWithinBudget(box, send, onDone) {
  try {
    const result = await send(false);
    onDone?.(result);
    return result;
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.code !== "over_budget" || !exc.details?.needs_confirmation) throw exc;
    box.querySelectorAll(":scope > .over-budget").forEach((e) => e.remove());
    const anyway = h("button", { type: "button", class: "btn btn-sm btn-warning ms-2", id: "confirm-over-budget" }, icon("exclamation-triangle"), "Schedule anyway");
    const prompt = h("div", { class: "alert alert-warning over-budget", role: "alert" }, h("span", { class: "over-budget-message" }, exc.message), anyway);
    anyway.addEventListener("click", async () => {
      anyway.disabled = true;
      try {
        const result = await send(true);
        prompt.remove();
        onDone?.(result);
      } catch (again) {
        prompt.replaceChildren(h("span", {}, again instanceof ApiError ? again.describe() : String(again)));
      }
    });
    box.prepend(prompt);
    return undefined;
  }
}
