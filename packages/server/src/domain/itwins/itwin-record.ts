import type { ITwinRecord } from "../../ports/access-store.js";
import { HubError } from "../errors.js";

/** What an iTwin is when its creator says nothing more (the cloud's classification of a capital project). */
export const ITWIN_DEFAULTS = {
  class: "Endeavor",
  subClass: "Project",
  type: null,
  status: "Active",
  geographicLocation: null,
  ianaTimeZone: null,
  deletedAt: null,
} as const satisfies Partial<ITwinRecord>;

/** 409 for a display name or number another live iTwin already has (both are unique on the hub, any case). */
export function iTwinExists(
  clash: "nameTaken" | "numberTaken",
  iTwin: Pick<ITwinRecord, "displayName" | "number">,
): HubError {
  return clash === "nameTaken"
    ? new HubError(
        "iTwinExists",
        `An iTwin named '${iTwin.displayName}' already exists: iTwin names are unique on the hub.`,
      )
    : new HubError(
        "iTwinExists",
        `An iTwin with the number '${iTwin.number}' already exists: iTwin numbers are unique on the hub.`,
      );
}
