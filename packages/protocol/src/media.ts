/** The media type the official clients ask for (`Accept`) and the hub answers with. */
export const IMODELS_API_MEDIA_TYPE = "application/vnd.bentley.itwin-platform.v2+json";

/** Page size rules of every collection (`$top` default and maximum, `$skip` maximum is not enforced by modelhub). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** Briefcase ids a hub may hand out (core-common `BriefcaseIdValue.FirstValid` .. `LastValid`). */
export const FIRST_BRIEFCASE_ID = 2;
export const LAST_BRIEFCASE_ID = 16777205;
