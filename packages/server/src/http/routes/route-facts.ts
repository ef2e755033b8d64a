// The facts the routes of people-web's files (me.ts, admin.ts, checkpoint-requests.ts) carry next to them, as the
// wiring plan has every route do: its authorization rule and its audit action. authz/rules.ts and
// audit/audit-hook.ts still hold the same facts and are what enforces them today; once routes' own `config` is
// read, this declaration gives way to the shared one.
import type { AuthzRule } from "../authz/rules.js";

declare module "fastify" {
  interface FastifyContextConfig {
    authz?: AuthzRule;
    /** `false`: a read, nothing recorded; otherwise the action the audit log records the write under. */
    audit?: false | { action: string };
  }
}

export {};
