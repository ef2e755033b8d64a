// The over-HTTP admin commands (`modelhub briefcases …`) on @modelhub/client, with their established error lines:
// `the hub answered <status>: <code>: <message>` (exit code 1).
import { ModelHubClient, ModelHubError } from "@modelhub/client";
import type { HubConnection } from "./hub-client.js";
import { HubCommandError, originOf } from "./hub-client.js";

/** Runs `body` with a client of the connection's hub; its refusals become HubCommandErrors. */
export async function withClient<T>(connection: HubConnection, body: (client: ModelHubClient) => Promise<T>): Promise<T> {
  const client = new ModelHubClient({ url: originOf(connection.url), accessToken: connection.token, retry: { baseDelayMs: 250 } });
  try {
    return await body(client);
  } catch (err) {
    if (!(err instanceof ModelHubError)) throw err;
    throw new HubCommandError(err.status === 0 ? err.message : `the hub answered ${err.status}: ${err.code}: ${err.message}`, 1);
  }
}
