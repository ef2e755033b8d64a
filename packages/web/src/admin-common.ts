// What every admin page shares: its props and calls to the hub outside `/imodels`.
import type { ModelHubClient } from "@modelhub/client";
import type { AuthMode } from "./session.js";

export interface AdminProps {
  client: ModelHubClient;
  mode: AuthMode;
  onUnauthorized: () => void;
}
/** A call to the hub outside `/imodels` (`/admin`, `/accesscontrol`, `/auditlog`): same token, same error bodies. */
export function hubCall<T>(
  client: ModelHubClient,
  method: string,
  path: string,
  body?: unknown,
  expected: readonly number[] = [200],
): Promise<T> {
  return client.request<T>(method, `${window.location.origin}${path}`, body, expected);
}
