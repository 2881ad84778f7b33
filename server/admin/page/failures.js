// Failures: failed and retrying deliveries with the LDAP result code and message, newest first,
// filtered by target and code, paged; each row links to the resource and can be retried.

import { api } from "./api.js";
import { badge, h, resourceHref, table, time } from "./dom.js";

const PAGE = 50;
/** Filter and page, kept across auto-refreshes and navigation. */
const state = { startIndex: 1, target: "", code: "" };

function filterForm(ctx, targets) {
  const target = h("select", { id: "f-target" }, h("option", { value: "" }, "All targets"), targets.map((t) => h("option", { value: t.name, selected: t.name === state.target }, t.name)));
  const code = h("input", { id: "f-code", inputmode: "numeric", pattern: "[0-9]*", size: 6, value: state.code });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter failures" },
    h("label", { for: "f-target" }, "Target"),
    target,
    h("label", { for: "f-code" }, "LDAP code"),
    code,
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, { target: target.value, code: code.value.trim(), startIndex: 1 });
    ctx.refresh();
  });
  return form;
}

export async function failures(ctx) {
  const [page, targets] = await Promise.all([
    api("failures", { query: { startIndex: state.startIndex, count: PAGE, target: state.target, code: state.code } }),
    api("targets"),
  ]);
  const rows = page.failures.map((f) => {
    const retry = h("button", { type: "button", id: `retry-${f.type}-${f.id}-${f.rule}`, class: "small" }, "Retry");
    retry.addEventListener("click", () =>
      ctx.act(retry, async () => {
        const { retried } = await api("retry", { method: "POST", body: { type: f.type, id: f.id } });
        return `${f.type}/${f.id}: ${retried} deliver${retried === 1 ? "y" : "ies"} set back to pending.`;
      }),
    );
    return h(
      "tr",
      { class: "failure", "data-id": f.id },
      h("td", null, h("a", { href: resourceHref(f.type, f.id) }, `${f.type}/${f.id}`)),
      h("td", null, f.rule),
      h("td", null, f.target),
      h("td", null, badge(f.state)),
      h("td", { class: "num" }, f.attempts),
      h("td", { class: "num code" }, f.lastCode ?? "—"),
      h("td", { class: "msg" }, f.lastError ?? ""),
      h("td", null, time(f.lastAttempt), f.state === "retrying" && f.nextAttempt ? h("div", { class: "muted" }, `next ${time(f.nextAttempt)}`) : null),
      h("td", null, retry),
    );
  });

  const first = page.totalResults ? state.startIndex : 0;
  const last = state.startIndex + page.itemsPerPage - 1;
  const prev = h("button", { type: "button", disabled: state.startIndex <= 1 }, "Previous");
  const next = h("button", { type: "button", disabled: last >= page.totalResults }, "Next");
  prev.addEventListener("click", () => {
    state.startIndex = Math.max(1, state.startIndex - PAGE);
    ctx.refresh();
  });
  next.addEventListener("click", () => {
    state.startIndex += PAGE;
    ctx.refresh();
  });
  const retryAll = h("button", { type: "button", id: "retry-all", disabled: page.totalResults === 0 }, "Retry all failed");
  retryAll.addEventListener("click", () =>
    ctx.act(retryAll, async () => {
      const { retried } = await api("retry", { method: "POST", body: { all: true } });
      return `${retried} deliver${retried === 1 ? "y" : "ies"} set back to pending.`;
    }),
  );

  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Failures"),
    filterForm(ctx, targets.targets),
    h("div", { class: "actions" }, retryAll),
    h("p", { class: "count" }, `${page.totalResults} failing deliver${page.totalResults === 1 ? "y" : "ies"}${page.totalResults ? ` (showing ${first}–${last})` : ""}.`),
    table(null, ["Resource", "Rule", "Target", "State", "Attempts", "LDAP code", "Error", "Last attempt", ""], rows, { empty: "No failed or retrying deliveries.", className: "failures" }),
    page.totalResults > PAGE ? h("div", { class: "pager" }, prev, next) : null,
  );
}
