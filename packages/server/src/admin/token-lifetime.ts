/** How long a hub token made by `modelhub tokens create` lives unless `--expires` says otherwise. */
export const DEFAULT_TOKEN_LIFETIME = "90d";
