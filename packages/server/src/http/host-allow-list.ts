/**
 * Which `Host` headers the hub answers. Links are built from the Host header, and a web page on another site can
 * reach a loopback hub through DNS rebinding (its own name resolving to 127.0.0.1); a browser then sends that
 * site's name as Host. Accepting only known names closes both holes.
 */
export class HostAllowList {
  /** Host names accepted with any port. */
  readonly #names = new Set<string>();
  /** `name:port` pairs accepted only with that port. */
  readonly #withPort = new Set<string>();

  /**
   * @param extra `--allowed-host` values: `name` (any port) or `name:port`.
   * @param publicUrl its host (with its port, if it has one) is accepted too.
   */
  constructor(extra: readonly string[] = [], publicUrl?: string) {
    const entries = [...extra];
    if (publicUrl) entries.push(new URL(publicUrl).host);
    for (const entry of entries) {
      const parsed = splitHost(entry);
      if (!parsed) continue;
      if (parsed.port === undefined) this.#names.add(parsed.name);
      else this.#withPort.add(`${parsed.name}:${parsed.port}`);
    }
  }

  allows(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const parsed = splitHost(hostHeader);
    if (!parsed) return false;
    return (
      isLoopbackName(parsed.name) || this.#names.has(parsed.name) || this.#withPort.has(`${parsed.name}:${parsed.port}`)
    );
  }
}

/** `name[:port]` or `[v6][:port]`, lower-cased, a trailing dot dropped; undefined when it is not a host at all. */
function splitHost(value: string): { name: string; port: string | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase().replace(/\.$/, ""), port: m[2] };
}

/** localhost (and *.localhost, which browsers resolve to loopback themselves), 127.0.0.0/8, ::1, ::ffff:127.x. */
function isLoopbackName(name: string): boolean {
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (/^127(?:\.\d{1,3}){3}$/.test(name)) return true;
  return (
    name === "[::1]" || /^\[::ffff:127(?:\.\d{1,3}){3}\]$/.test(name) || /^\[0{0,4}(?::0{0,4}){6}:0{0,3}1\]$/.test(name)
  );
}
