/**
 * Wire types of the iTwins API v1 (`/itwins`) and of the Access Control API (`/accesscontrol/itwins/{id}/…`) as
 * modelhub serves them: the cloud's names and shapes (docs/compatibility.md says where modelhub differs).
 */
import type { PagingLinks } from "./entities.js";

/** The media type of the iTwins and Access Control APIs (v1); the hub also accepts the iModels API's. */
export const ITWINS_API_MEDIA_TYPE = "application/vnd.bentley.itwin-platform.v1+json";

/** Classes and the subclasses each allows (the cloud's pairs; modelhub has no Account iTwins). */
export const ITWIN_SUBCLASSES = {
  Thing: ["Asset", "Portfolio"],
  Endeavor: ["Project", "Program", "WorkPackage"],
} as const;
export type ITwinClass = keyof typeof ITWIN_SUBCLASSES;
export type ITwinSubClass = (typeof ITWIN_SUBCLASSES)[ITwinClass][number];
export const ITWIN_STATUSES = ["Active", "Inactive", "Trial"] as const;
export type ITwinStatus = (typeof ITWIN_STATUSES)[number];

/** `Prefer: return=minimal` (the default) answers these fields only. */
export interface MinimalITwin {
  id: string;
  class: ITwinClass;
  subClass: ITwinSubClass;
  type: string | null;
  number: string;
  displayName: string;
}

/** `Prefer: return=representation`, and every single-iTwin answer. */
export interface ITwin extends MinimalITwin {
  status: ITwinStatus;
  dataCenterLocation: string;
  parentId: string | null;
  iTwinAccountId: string | null;
  geographicLocation: string | null;
  ianaTimeZone: string | null;
  imageName: string | null;
  image: string | null;
  createdDateTime: string;
  createdBy: string;
  lastModifiedDateTime: string;
  lastModifiedBy: string;
}

/** `POST /itwins` (and the fields `PATCH /itwins/{id}` may change). */
export interface CreateITwinInput {
  displayName: string;
  class?: ITwinClass;
  subClass?: ITwinSubClass;
  type?: string | null;
  number?: string;
  status?: ITwinStatus;
  geographicLocation?: string | null;
  ianaTimeZone?: string | null;
}

export interface ITwinPage {
  iTwins: (MinimalITwin | ITwin)[];
  _links: PagingLinks;
}

/** A role of an iTwin (Access Control API). */
export interface ITwinRole {
  id: string;
  displayName: string;
  description: string | null;
  permissions: string[];
}

/** A user member of an iTwin with their roles (Access Control API). */
export interface ITwinMember {
  id: string;
  /** modelhub: when the user got their first role. */
  addedDateTime: string;
  roles: Omit<ITwinRole, "permissions">[];
}
