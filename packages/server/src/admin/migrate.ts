// `modelhub migrate --metadata postgres://…`: bring a PostgreSQL metadata database to this modelhub's schema.
import { BackendRefusal, migrateMetadataDatabase } from "../adapters/registry.js";
import { stderr, stdout } from "./terminal.js";

export interface MigrateOptions {
  /** `postgres://user@host:port/db`, optionally `?schema=<name>`. */
  metadata: string;
  json: boolean;
}

/** What `--json` prints on success. */
export interface MigrateReport {
  ok: true;
  database: string;
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

/** The URL as it may be printed: without its password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(not a URL)";
  }
}

/**
 * Exit codes: 0 migrated (or already current); 2 refused, nothing changed (not a postgres:// URL, a bad schema name,
 * or a database migrated by a newer modelhub); 1 failed (cannot connect, a migration failed: that migration was
 * rolled back, the ones before it stay applied).
 */
export async function runMigrateCommand(options: MigrateOptions): Promise<void> {
  const database = redactedUrl(options.metadata);
  if (!/^postgres(ql)?:\/\//.test(options.metadata)) {
    return finish(
      options,
      2,
      `--metadata must be a postgres:// URL (the embedded SQLite database migrates itself when modelhub serve opens it); got ${database}`,
    );
  }
  try {
    const result = await migrateMetadataDatabase(options.metadata);
    const report: MigrateReport = { ok: true, database, ...result };
    if (options.json) stdout.json(report);
    else {
      for (const m of report.applied) stdout.line(`modelhub migrate: applied ${m.version} ${m.name}`);
      stdout.line(
        `modelhub migrate: ${database} is at schema version ${report.to}${report.applied.length === 0 ? " (already current)" : ` (was ${report.from})`}`,
      );
    }
  } catch (err) {
    return finish(options, err instanceof BackendRefusal ? 2 : 1, messageOf(err));
  }
}

function messageOf(err: unknown): string {
  // pg's connection errors can be an AggregateError with an empty message (one per address tried).
  if (err instanceof AggregateError && !err.message) return err.errors.map(messageOf).join("; ");
  return err instanceof Error ? err.message || String(err) : String(err);
}

function finish(options: MigrateOptions, exitCode: 1 | 2, message: string): void {
  if (options.json)
    stderr.json({
      error: { code: exitCode === 2 ? "Refused" : "Failed", message, command: "modelhub migrate", exitCode },
    });
  else stderr.line(`modelhub migrate: ${exitCode === 2 ? "refused" : "failed"}: ${message}`);
  process.exitCode = exitCode;
}
