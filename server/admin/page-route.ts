/**
 * The admin web page (issue 6) at /admin/: static HTML, CSS and ES modules from ./page, no build
 * step. The page talks to /admin/api with the admin token the operator types in (kept in
 * sessionStorage, sent as a bearer header, never in a URL), so serving the files needs no auth:
 * they hold no data.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type RequestHandler, type Router } from "express";

/**
 * server/admin/page, from the source tree (tsx) or from dist/server/admin (tsc copies no assets,
 * so dist finds them back in the checkout, as db/open.ts finds the migrations).
 */
export function pageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "page"), join(here, "..", "..", "..", "server", "admin", "page")];
  const found = candidates.find((c) => existsSync(join(c, "index.html")));
  if (found) return found;
  throw new Error(`server/admin/page not found next to ${here}`);
}

/**
 * Everything from our own origin only, nothing inline: data reaches the DOM as text nodes, and a
 * script injected through it anyway would not run. No framing (clickjacking of the action buttons).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("Content-Security-Policy", PAGE_CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  next();
};

/** Mounted at /admin, after the API routers (which answer everything under /admin/api). */
export function adminPage(dir = pageDir()): Router {
  const r = express.Router();
  const index = join(dir, "index.html");
  r.use(securityHeaders);
  // The app normalises away a trailing slash before routing, so `/admin` and `/admin/` both arrive
  // here as "/": the original URL tells them apart. Without the slash the page's relative asset
  // URLs would resolve against "/", hence the redirect (relative, so it holds behind a path prefix).
  r.get("/", (req, res) => {
    const path = req.originalUrl.split("?")[0]!;
    if (!path.endsWith("/")) {
      res.redirect(302, `${path.slice(path.lastIndexOf("/") + 1)}/`);
      return;
    }
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(index);
  });
  r.use(express.static(dir, { index: false, redirect: false, dotfiles: "ignore", fallthrough: true, setHeaders: (res) => res.setHeader("Cache-Control", "no-cache") }));
  return r;
}
