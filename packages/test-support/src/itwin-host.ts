// iTwin.js's IModelHost in a test or benchmark process, which runs offline.
import { createRequire } from "node:module";
import type * as CoreBackend from "@itwin/core-backend";

const require = createRequire(import.meta.url);

/**
 * `IModelHost.startup(options)`, then iTwin.js's geographic-coordinate workspace turned off: it is a public cloud
 * container (geocoord-workspace.itwinjs.org), and offline the first open of a file stalls ~15 s on DNS before giving
 * up. No test or benchmark reprojects. `name` names the settings dictionary.
 */
export async function startOfflineIModelHost(
  options: CoreBackend.IModelHostOptions,
  name = "modelhub-tests",
): Promise<void> {
  const backend = require("@itwin/core-backend") as typeof CoreBackend;
  await backend.IModelHost.startup(options);
  backend.IModelHost.appWorkspace.settings.addDictionary(
    { name, priority: backend.SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );
}
