import type { AccessService } from "../../domain/access/access-service.js";
import type { Hub } from "../../domain/hub.js";

/** What the `/imodels` route plugins are registered with (`api.register(iModelRoutes, context)`). */
export interface ApiRouteContext {
  hub: Hub;
  access: AccessService;
}
