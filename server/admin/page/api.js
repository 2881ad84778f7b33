// The admin API client. The token lives in sessionStorage (this tab only, gone when it closes)
// and travels only in the Authorization header: never in a URL, a cookie or the page's markup.

const KEY = "scimbridge.adminToken";
// Resolved against this module's URL (…/admin/api.js → …/admin/api/), so a path prefix in front
// of scimbridge (a reverse proxy) needs no configuration.
const BASE = new URL("api/", import.meta.url);

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signIn: (token) => sessionStorage.setItem(KEY, token),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** Listeners told when the API answers 401 (token revoked or wrong): the app signs out. */
const unauthorized = new Set();
export const onUnauthorized = (fn) => unauthorized.add(fn);

/** `path` relative to /admin/api/; `query` values that are undefined or "" are left out. */
export async function api(path, { method = "GET", body, query, token = session.token() } = {}) {
  const url = new URL(path, BASE);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  const headers = { Accept: "application/json", Authorization: `Bearer ${token ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit" });
  const data = await res.json().catch(() => null);
  if (res.status === 401) for (const fn of unauthorized) fn();
  if (!res.ok) throw new ApiError(res.status, data?.error?.detail ?? `${res.status} ${res.statusText}`);
  return data;
}

/** A path segment taken from data (a resource id), encoded so it cannot add segments or a query. */
export const seg = (s) => encodeURIComponent(String(s));
