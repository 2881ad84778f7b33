/**
 * The delivery package's public entry: what the server and the CLI use of delivery and of the
 * directories it writes to. Inside the package imports go one way (worker → scheduler, fan-out,
 * recorder, deliveries → template, claims, memberships → rules, planning, ldap); outside it, only
 * this file is imported (test/architecture checks both).
 */
export { DeliveryWorker, type DeliveryEvent, type LdapWriteReport, type WorkerOptions } from "./worker.js";
export type { Target } from "./context.js";
export { formatPreview, previewUser, printableOp, printablePreview, type PreviewState, type RulePreview } from "./preview.js";
export { parseKey, SecretError } from "./secrets.js";
export { LdapTarget, type LdapTargetHealth } from "../ldap/connection.js";
export { findSlapd, startSlapd, type SlapdHandle } from "../ldap/slapd.js";
export { SlapdSupervisor, withSupervisor, type SupervisedStatus } from "../ldap/slapd-supervisor.js";
