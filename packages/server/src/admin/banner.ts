// What `modelhub serve` prints once it listens: enough for a newcomer to know what runs and where to go next, and
// for an operator to see at a glance which storage and which sign-in a node uses.
import { formatBlobSpec, formatMetadataSpec } from "../adapters/store-specs.js";
import type { ServerConfig } from "../config.js";
import type { LogFormat } from "../background/log-format.js";
import { VERSION } from "../version.js";

/** How callers prove who they are in each auth mode, in a few words. */
export function authModeLine(auth: ServerConfig["auth"]): string {
  switch (auth.mode) {
    case "open":
      return "open (any bearer text names the user; nothing is verified, so loopback only)";
    case "tokens":
      return "tokens (hub-issued tokens: modelhub tokens create --user <id>)";
    case "oidc":
      return `oidc (JWTs of ${auth.issuer}${auth.audience !== undefined ? ` for audience ${auth.audience}` : ", any audience"})`;
  }
}

export function bannerLines(url: string, config: ServerConfig, logFormat: LogFormat): string[] {
  const metadata =
    config.metadata.kind === "sqlite" ? `sqlite (${config.dataDir}/metadata.db)` : formatMetadataSpec(config.metadata);
  const blobs =
    config.blobs.kind === "fs"
      ? `fs (under ${config.dataDir})`
      : `${formatBlobSpec(config.blobs)} (account from AZURE_STORAGE_CONNECTION_STRING)`;
  return [
    // Tests and scripts look for this line: keep its start.
    `modelhub listening on ${url}`,
    `  version:  ${VERSION}`,
    `  web UI:   ${url}/`,
    `  API base URL for the iModels clients: ${url}/imodels`,
    `  auth:     ${authModeLine(config.auth)}`,
    `  metadata: ${metadata}`,
    `  blobs:    ${blobs}`,
    `  data:     ${config.dataDir}`,
    `  log:      ${logFormat === "human" ? "one line per request (--log-format json for JSON lines)" : "JSON lines"}, level ${config.logLevel}`,
  ];
}
