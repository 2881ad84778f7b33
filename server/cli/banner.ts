/** The lines `serve` prints for a person once it listens (on stderr: stdout carries the JSON log). */
import { resolve } from "node:path";

export interface BannerFacts {
  url: string;
  publicUrl?: string | undefined;
  database: string;
  embedded?: { url: string; suffix: string } | undefined;
  /** The token ensureToken settled on: a generated one is shown once; SCIM_TOKEN's is only named. */
  first?: { name: string; token?: string | undefined } | undefined;
}

export function startBanner(f: BannerFacts): string {
  const lines = [`scimbridge listening on ${f.url}`];
  if (f.publicUrl) lines.push(`Public SCIM base URL (server.publicUrl): ${f.publicUrl}`);
  lines.push(`Database: ${resolve(f.database)}`);
  if (f.embedded) {
    lines.push(
      `Embedded OpenLDAP on ${f.embedded.url} (${f.embedded.suffix}); users land in ou=people:`,
      `  ldapsearch -x -H ${f.embedded.url} -b ou=people,${f.embedded.suffix}`,
    );
  }
  if (f.first?.token) {
    lines.push(
      `First bearer token (client "${f.first.name}"); it is shown only now, store it securely:`,
      `  ${f.first.token}`,
      `Try: curl -H "Authorization: Bearer ${f.first.token}" ${f.publicUrl ?? f.url}/Users`,
    );
  } else if (f.first) {
    lines.push(`Bearer token from SCIM_TOKEN accepted as client "${f.first.name}"`);
  }
  return lines.join("\n");
}
