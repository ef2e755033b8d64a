/** What the hub answered when it refused or failed a request, or why it could not be reached (status 0). */
export class ModelHubError extends Error {
  override readonly name = "ModelHubError";
  constructor(
    /** The HTTP status; 0 when no answer came (connection refused, reset, DNS…). */
    readonly status: number,
    /** The API's error code (`iModelNotFound`, `InsufficientPermissions`…), or the storage's (Azure-style XML), or `NetworkError`. */
    readonly code: string,
    message: string,
    /** The API's `error.details`, when it gave any. */
    readonly details?: readonly { code?: string; message?: string; target?: string }[],
    /** The API's whole `error` object, with fields beyond code and message (e.g. `conflictingLocks`). */
    readonly body?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }

  /** One readable line: `iModelNotFound: Requested iModel is not available. (404)`, with the details' messages. */
  describe(): string {
    const details = (this.details ?? [])
      .map((d) => (d.target ? `${d.target}: ${d.message ?? d.code ?? ""}` : (d.message ?? d.code ?? "")))
      .filter((d) => d !== "");
    const status = this.status >= 400 ? ` (${this.status})` : "";
    return `${this.code}: ${this.message}${details.length > 0 ? ` — ${details.join("; ")}` : ""}${status}`;
  }
}

/** Parses an API error body (`{"error":{"code","message","details"?}}`) or a storage XML error into a ModelHubError. */
export function errorOfResponse(status: number, text: string, fallback: string): ModelHubError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body.error && typeof body.error.code === "string") {
      const details = Array.isArray(body.error.details)
        ? (body.error.details as { code?: string; message?: string; target?: string }[])
        : undefined;
      return new ModelHubError(
        status,
        body.error.code,
        typeof body.error.message === "string" ? body.error.message : fallback,
        details,
        body.error,
      );
    }
  } catch {
    // not JSON: maybe the storage's XML
  }
  const xmlCode = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  if (xmlCode !== undefined)
    return new ModelHubError(status, xmlCode, /<Message>([^<]*)<\/Message>/.exec(text)?.[1]?.trim() || fallback);
  return new ModelHubError(status, `HTTP${status}`, text.trim().slice(0, 300) || fallback);
}
