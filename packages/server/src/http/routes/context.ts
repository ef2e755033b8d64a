import type { AccessService } from "../../domain/access/access-service.js";
import type { Hub } from "../../domain/hub.js";
import type { UploadSlots } from "../storage/upload-slots.js";

/** What the `/imodels` route plugins are registered with (`api.register(iModelRoutes, context)`). */
export interface ApiRouteContext {
  hub: Hub;
  access: AccessService;
  /** The hub's upload slots (--max-uploads), also taken by a push whose request carries its file. */
  uploads?: UploadSlots;
}
