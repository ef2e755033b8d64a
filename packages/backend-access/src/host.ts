import { createRequire } from "node:module";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type * as CoreCommon from "@itwin/core-common";
import type { AccessLogger } from "./hub-calls.js";
import { LOGGER_CATEGORY } from "./hub-calls.js";

/**
 * The host's own iTwin.js packages. Errors must be instances of the host's classes (core-backend tests
 * `instanceof IModelError` and reads `errorNumber`), so they are resolved like the host resolves them, at run time.
 */
const require = createRequire(import.meta.url);

export const backend = require("@itwin/core-backend") as typeof CoreBackend;
export const common = require("@itwin/core-common") as typeof CoreCommon;
export const bentley = require("@itwin/core-bentley") as typeof CoreBentley;

/** The default logger: the host's iTwin.js `Logger`, category `ModelHubAccess`. */
export const hostLogger: AccessLogger = {
  warn: (message) => bentley.Logger.logWarning(LOGGER_CATEGORY, message),
  info: (message) => bentley.Logger.logInfo(LOGGER_CATEGORY, message),
};

/** "5.1.9" etc.: the host's core-backend version, for messages. */
export const hostVersion: string = (require("@itwin/core-backend/package.json") as { version: string }).version;

export type ComputeChangesetId = (props: { parentId: string; pathname: string }) => string;

let idRule: ComputeChangesetId | undefined;

/**
 * iTwin.js's own changeset id rule (the native `DgnDb.computeChangesetId` of iTwin.js 5.x, the hash iTwin.js checks
 * before it pushes), or undefined when the host has none (iTwin.js 4.x) or has not started yet. Found once.
 */
export function changesetIdRule(): ComputeChangesetId | undefined {
  if (idRule) return idRule;
  if (!backend.IModelHost.isValid) return undefined;
  try {
    const hostRequire = createRequire(require.resolve("@itwin/core-backend"));
    const native = hostRequire("@bentley/imodeljs-native") as {
      NativeLibrary: { nativeLib: { DgnDb: { computeChangesetId?: ComputeChangesetId } } };
    };
    const dgnDb = native.NativeLibrary.nativeLib.DgnDb;
    if (typeof dgnDb.computeChangesetId === "function") idRule = (props) => dgnDb.computeChangesetId!(props);
    return idRule;
  } catch {
    return undefined;
  }
}

/** Whether the file at `pathname` is the changeset `id` on `parentId` by iTwin.js's rule; false when it is no changeset. */
export function hasChangesetId(computeId: ComputeChangesetId, parentId: string, pathname: string, id: string): boolean {
  try {
    return computeId({ parentId, pathname }) === id;
  } catch {
    return false; // not a changeset file at all
  }
}

/** The host's current token (`IModelHost.authorizationClient`), or "" when it has none. */
export async function hostToken(): Promise<string> {
  try {
    return (await backend.IModelHost.getAccessToken()) || "";
  } catch {
    return "";
  }
}
