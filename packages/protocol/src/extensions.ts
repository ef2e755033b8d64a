// modelhub's extensions of the iModels API (docs/compatibility.md): the names and limits the hub and its clients
// must agree on, written once.

/** `GET /imodels/{id}/changesets`: up to this many bytes of the page's first changeset files, inline. */
export const INLINE_FILES_HEADER = "x-modelhub-inline-files";

/** `PATCH /imodels/{id}/locks` with `none`: answered `204` instead of the briefcase's whole lock set. */
export const LOCK_ANSWER_HEADER = "x-modelhub-lock-answer";

/** `POST /imodels/{id}/changesets/push`: the changeset's create body, as base64url of its UTF-8 JSON. */
export const CHANGESET_PROPERTIES_HEADER = "x-modelhub-changeset";

/** The largest changeset file a push in one request may carry (the hub holds it in memory until it answers). */
export const MAX_ONE_REQUEST_PUSH_BYTES = 8 * 1024 * 1024;
