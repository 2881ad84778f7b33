// The admin page's shell: sign-in, hash routing between views, auto-refresh of the live views,
// and the one way actions run (button busy, outcome announced, faster polling while it settles).

import { api, onUnauthorized, session } from "./api.js";
import { errorBox, h } from "./dom.js";
import { failures } from "./failures.js";
import { audit, traffic } from "./logs.js";
import { clientReport } from "./client-report.js";
import { overview } from "./overview.js";
import { resource } from "./resource.js";

const ROUTES = [
  { name: "overview", re: /^#?\/?(?:overview)?$/, view: overview, live: true },
  { name: "failures", re: /^#\/failures$/, view: failures, live: true },
  { name: "resource", re: /^#\/resource\/([^/]+)\/(.+)$/, view: resource, live: true, nav: "failures" },
  { name: "traffic", re: /^#\/traffic$/, view: traffic, live: false },
  { name: "clients", re: /^#\/clients$/, view: clientReport, live: false },
  { name: "audit", re: /^#\/audit$/, view: audit, live: false },
];
const SLOW_MS = 5000;
const FAST_MS = 1000;
/** After an action, poll fast this long so the worker's outcome shows without waiting. */
const FAST_FOR_MS = 20_000;

const $ = (id) => document.getElementById(id);
const els = {
  signinView: $("signin-view"),
  form: $("signin"),
  token: $("token"),
  signinError: $("signin-error"),
  nav: $("nav"),
  session: $("session"),
  autorefresh: $("autorefresh"),
  refresh: $("refresh"),
  signout: $("signout"),
  notice: $("notice"),
  view: $("view"),
};

let generation = 0;
let timer;
let fastUntil = 0;

/** A hash segment decoded; a malformed escape (a hand-edited URL) is taken as it is. */
function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function route() {
  for (const r of ROUTES) {
    const m = r.re.exec(location.hash);
    if (m) return { ...r, params: m.slice(1).map(decode) };
  }
  return { name: "missing", view: async () => h("div", null, h("h1", { tabindex: "-1" }, "Not found"), h("p", null, h("a", { href: "#/overview" }, "Back to the overview"))), params: [], live: false };
}

function notify(message, isError = false) {
  els.notice.textContent = message;
  els.notice.classList.toggle("is-error", isError);
}

/** Runs an action from a button: busy while it runs, its message announced, the view redrawn. */
async function act(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    notify(await fn());
    fastUntil = Date.now() + FAST_FOR_MS;
  } catch (e) {
    notify(e instanceof Error ? e.message : String(e), true);
  }
  await render(false);
  schedule();
}

/** A form control in the view has focus: the operator is typing, a redraw would lose it. */
function editing() {
  const a = document.activeElement;
  return a !== null && els.view.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
}

async function render(navigated) {
  if (!session.token()) return;
  const gen = ++generation;
  const r = route();
  const ctx = { params: r.params, act, refresh: () => render(false) };
  let node;
  try {
    node = await r.view(ctx);
  } catch (e) {
    if (e.status === 401) return; // onUnauthorized has signed out
    node = h("div", null, h("h1", { tabindex: "-1" }, "Something went wrong"), errorBox(e));
  }
  if (gen !== generation) return; // a newer render started meanwhile
  // Keep the focused control (by id) across a redraw, so auto-refresh does not lose the keyboard.
  const focused = els.view.contains(document.activeElement) ? document.activeElement.id : "";
  els.view.replaceChildren(node);
  els.view.dataset.view = r.name;
  els.view.dataset.rendered = String(Date.now());
  for (const a of els.nav.querySelectorAll("a")) {
    if (a.dataset.view === (r.nav ?? r.name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (navigated) els.view.querySelector("h1")?.focus();
  else if (focused) $(focused)?.focus();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (session.token() && els.autorefresh.checked && route().live && !editing()) await render(false);
    schedule();
  }, Date.now() < fastUntil ? FAST_MS : SLOW_MS);
}

function showSignIn(message = "") {
  clearTimeout(timer);
  els.view.replaceChildren();
  els.nav.hidden = true;
  els.session.hidden = true;
  els.signinView.hidden = false;
  els.signinError.textContent = message;
  els.token.focus();
}

async function showApp() {
  els.signinView.hidden = true;
  els.nav.hidden = false;
  els.session.hidden = false;
  await render(true);
  schedule();
}

els.form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = els.token.value.trim();
  if (!token) return;
  try {
    await api("status", { token });
  } catch (err) {
    els.signinError.textContent = err.status === 401 ? "That token was not accepted." : `The admin API did not answer: ${err.message}`;
    return;
  }
  session.signIn(token);
  els.token.value = "";
  notify("");
  await showApp();
});

els.signout.addEventListener("click", () => {
  session.signOut();
  notify("");
  showSignIn();
});
els.refresh.addEventListener("click", () => render(false));
els.autorefresh.addEventListener("change", schedule);
window.addEventListener("hashchange", () => {
  notify("");
  render(true);
});
onUnauthorized(() => {
  session.signOut();
  showSignIn("The admin API no longer accepts this token; sign in again.");
});

if (session.token()) showApp();
else showSignIn();
