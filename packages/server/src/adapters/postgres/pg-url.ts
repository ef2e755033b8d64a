// The PostgreSQL URL rules, apart from the driver: the command line checks --metadata without loading `pg`.

/** A schema name we put into `search_path` and `CREATE SCHEMA` unquoted: plain identifiers only. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The `?schema=` of a metadata URL was not a plain lowercase identifier. */
export class InvalidPgSchemaNameError extends Error {
  constructor(readonly schema: string) {
    super(
      `The schema name "${schema}" in the PostgreSQL URL is not allowed: use lowercase letters, digits and _ (at most 63, not starting with a digit).`,
    );
    this.name = "InvalidPgSchemaNameError";
  }
}

/**
 * Splits a `postgres://user@host:port/db?schema=name` URL into the URL pg understands and the schema the hub's tables
 * live in (undefined: pg's default search_path, normally `public`).
 */
export function parsePgUrl(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? undefined;
  parsed.searchParams.delete("schema");
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new InvalidPgSchemaNameError(schema);
  return { connectionString: parsed.toString(), schema };
}
