import type { IncomingHttpHeaders } from "node:http";
import type { Actor } from "../domain/context.js";

/**
 * Headers that name the calling application where the access token does not (open and `tokens` modes, or an OIDC
 * token without `azp`/`client_id`). The cloud fills `application` from the token's client; these let other clients
 * (scripts, services with hub tokens) be told apart the same way. A client id from a verified token always wins.
 */
export const APPLICATION_ID_HEADER = "x-modelhub-application-id";
export const APPLICATION_NAME_HEADER = "x-modelhub-application-name";

/** Bounded like the profile claims, so a header cannot fill the database. */
const MAX_LENGTH = 256;

export function withApplication(actor: Actor, headers: IncomingHttpHeaders): Actor {
  const id = actor.applicationId ?? headerText(headers[APPLICATION_ID_HEADER]);
  if (id === undefined) return actor;
  const name = headerText(headers[APPLICATION_NAME_HEADER]);
  return { ...actor, applicationId: id, ...(name !== undefined ? { applicationName: name } : {}) };
}

function headerText(value: string | string[] | undefined): string | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  return text ? text.slice(0, MAX_LENGTH) : undefined;
}
