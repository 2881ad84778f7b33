// DOM helpers. Data only ever reaches the page as text nodes or attribute values set one by one
// (never through innerHTML), so a userName like "<img onerror=…>" shows as those characters.

const SVG_NS = "http://www.w3.org/2000/svg";

function set(el, props) {
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h("a", { href: "#/x", class: "link" }, "text", child…): an element; strings become text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  set(el, props);
  append(el, children);
  return el;
}

/** The same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  set(el, props);
  append(el, children);
  return el;
}

/** Local date and time of an ISO timestamp; "—" for none. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

const STATE_LABEL = { in_sync: "in sync", pending: "pending", retrying: "retrying", failed: "failed", out_of_scope: "out of scope", needs_password: "needs password" };

/** A delivery state as a badge; the class comes from a fixed list, never from the data itself. */
export function badge(state) {
  if (state === null || state === undefined) return h("span", { class: "badge state-none" }, "not fanned out yet");
  const known = Object.hasOwn(STATE_LABEL, state);
  return h("span", { class: ["badge", known && `state-${state}`], "data-state": state }, known ? STATE_LABEL[state] : String(state));
}

export function table(caption, headers, rows, { empty = "Nothing to show.", className } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    { class: className },
    caption ? h("caption", null, caption) : null,
    h("thead", null, h("tr", null, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", null, rows),
  );
}

/** A term/description list from [term, value] pairs (values may be nodes). */
export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "—")]));
}

export const pre = (value) => h("pre", { class: "json" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));

export const resourceHref = (type, id) => `#/resource/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;

export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}
