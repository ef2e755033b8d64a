/**
 * A setting that cannot be used as given (a flag, a variable, a spec such as `--metadata`), with a message that says
 * what to write instead. Its own module so that the parsers of the adapters' specs (adapters/registry.ts,
 * adapters/blob/blob-spec.ts) and config.ts, which holds their results, do not import each other.
 */
export class ConfigError extends Error {}
