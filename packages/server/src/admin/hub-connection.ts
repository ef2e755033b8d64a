// How the admin commands that talk to a running hub (`modelhub audit`, `access`, `briefcases`) reach it: through
// @modelhub/client, the one HTTP client of the hub's API (its retry policy included), with one address and token
// option set and one error line: `the hub answered <status>: <code>: <message>` (exit code 1).
import { ModelHubClient, ModelHubError } from "@modelhub/client";

/** Exit codes: 1 the hub refused or failed (its error code and message), 2 bad arguments. */
export class HubCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

export interface HubConnection {
  /** The hub's address, e.g. http://127.0.0.1:3000 (a path after it is ignored). */
  url: string;
  /** A bearer token: open mode takes any, `oidc` one from the identity provider, `tokens` one from `modelhub tokens create`. */
  token: string;
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new HubCommandError(`--url must be the hub's address such as http://127.0.0.1:3000, not '${url}'.`, 2);
  }
}

export interface WithClientOptions {
  /** Told the text of an answer's `Warning` header (open mode: roles are recorded, not enforced). */
  onWarning?: (warning: string) => void;
  /** Append the first of the error's details to the line (the access commands: it names the field at fault). */
  withDetail?: boolean;
}

/** Runs `body` with a client of the connection's hub; its refusals become HubCommandErrors (exit code 1). */
export async function withClient<T>(
  connection: HubConnection,
  body: (client: ModelHubClient) => Promise<T>,
  options: WithClientOptions = {},
): Promise<T> {
  const origin = originOf(connection.url);
  const client = new ModelHubClient({
    url: origin,
    accessToken: connection.token,
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  try {
    return await body(client);
  } catch (err) {
    if (!(err instanceof ModelHubError)) throw err;
    throw new HubCommandError(describeRefusal(err, origin, options.withDetail ?? false), 1);
  }
}

function describeRefusal(err: ModelHubError, origin: string, withDetail: boolean): string {
  if (err.status === 0) return `cannot reach the hub at ${origin}: ${err.message.replace(/^cannot reach \S+: /, "")}`;
  // An answer that was no API error body (a proxy's page): its text as it came.
  if (err.code === `HTTP${err.status}`) return `the hub answered ${err.status}: ${err.message}`;
  const detail = withDetail && err.details?.[0]?.message ? ` ${err.details[0].message}` : "";
  return `the hub answered ${err.status}: ${err.code}: ${err.message}${detail}`;
}
