// The activity plot: LDAP writes per hour (GET /admin/api/activity), succeeded and failed stacked,
// drawn as inline SVG with DOM calls (no library, no inline style: the CSP forbids both).

import { h, s } from "./dom.js";

const W = 720;
const H = 200;
const M = { top: 12, right: 8, bottom: 26, left: 40 };

/** A round axis maximum ≥ n: 1, 2, 5, 10, 20, 50… */
function niceMax(n) {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= n);
}

const hourLabel = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

/** `activity`: { hours, buckets: [{ start, success, error }], totals }. */
export function activityPlot(activity) {
  const { buckets, totals } = activity;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.success + b.error)));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const step = plotW / Math.max(buckets.length, 1);
  const barW = Math.max(1, step * 0.7);
  const y = (n) => M.top + plotH - (n / max) * plotH;
  const summary = `${totals.success} LDAP writes succeeded and ${totals.error} failed in the last ${activity.hours} hours`;

  const grid = [0, max / 2, max].map((v) =>
    s("g", { class: "grid" }, s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }), s("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1))),
  );
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  const bars = buckets.map((b, i) => {
    const x = M.left + i * step + (step - barW) / 2;
    const title = `${hourLabel(b.start)}: ${b.success} succeeded, ${b.error} failed`;
    const parts = [];
    if (b.success > 0) parts.push(s("rect", { class: "bar ok", x, y: y(b.success), width: barW, height: y(0) - y(b.success), "data-start": b.start, "data-count": b.success }, s("title", null, title)));
    if (b.error > 0) parts.push(s("rect", { class: "bar err", x, y: y(b.success + b.error), width: barW, height: y(b.success) - y(b.success + b.error), "data-start": b.start, "data-count": b.error }, s("title", null, title)));
    const label = (buckets.length - 1 - i) % labelEvery === 0 ? s("text", { class: "tick", x: x + barW / 2, y: H - 8, "text-anchor": "middle" }, hourLabel(b.start)) : null;
    return s("g", null, parts, label);
  });

  const svg = s(
    "svg",
    { class: "plot", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, preserveAspectRatio: "xMidYMid meet" },
    s("title", null, summary),
    grid,
    s("line", { class: "axis", x1: M.left, x2: W - M.right, y1: y(0), y2: y(0) }),
    bars,
  );
  return h(
    "figure",
    { class: "activity" },
    svg,
    h("figcaption", null, h("span", { class: "key ok" }, "succeeded"), " ", h("span", { class: "key err" }, "failed"), " — ", summary, " (per hour, local time)."),
  );
}
