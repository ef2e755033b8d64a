// The admin commands that talk to a running hub over HTTP (`modelhub audit`, `modelhub briefcases`): one request
// helper, the same address and token options everywhere.
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";

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

/** One API call; answers other than `expected` become a HubCommandError with the API's error code and message. */
export async function callHub<T>(connection: HubConnection, method: string, pathOrUrl: string, expected: readonly number[] = [200]): Promise<T> {
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${originOf(connection.url)}${pathOrUrl}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers: { accept: IMODELS_API_MEDIA_TYPE, authorization: `Bearer ${connection.token}`, prefer: "return=representation" } });
  } catch (err) {
    throw new HubCommandError(`cannot reach the hub at ${originOf(connection.url)}: ${(err as { cause?: { code?: string } }).cause?.code ?? String(err)}`, 1);
  }
  const text = await response.text();
  if (!expected.includes(response.status)) throw new HubCommandError(`the hub answered ${response.status}: ${errorMessage(text)}`, 1);
  return (text ? JSON.parse(text) : undefined) as T;
}

function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error) return `${body.error.code ?? "Error"}: ${body.error.message ?? ""}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 500);
}
