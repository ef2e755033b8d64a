import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

/**
 * Who is on the other end of a request: the connection's address, or — when that is one of the `--trusted-proxy`
 * addresses — the address the proxy says it forwarded for (`X-Forwarded-For`, read from the right: each trusted hop
 * vouches for the one before it; the first address not trusted is the client). A client cannot claim an address
 * through a proxy that is not trusted, and the header is ignored altogether without `--trusted-proxy`.
 */
export class ClientAddresses {
  readonly #trusted = new BlockList();
  readonly #any: boolean;
  readonly #known = new WeakMap<IncomingMessage, string>();

  /** @param trusted addresses (`10.0.0.5`, `::1`) or networks (`10.0.0.0/8`, `fd00::/8`); see {@link isTrustedProxySpec}. */
  constructor(trusted: readonly string[] = []) {
    for (const spec of trusted) addToList(this.#trusted, spec);
    this.#any = trusted.length > 0;
  }

  of(raw: IncomingMessage): string {
    const known = this.#known.get(raw);
    if (known !== undefined) return known;
    let address = normalize(raw.socket?.remoteAddress ?? "");
    if (this.#any) {
      const header = raw.headers["x-forwarded-for"];
      const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
        .split(",")
        .map((h) => normalize(h.trim()));
      while (hops.length > 0 && this.#isTrusted(address)) {
        const previous = hops.pop()!;
        if (isIP(previous) === 0) break;
        address = previous;
      }
    }
    this.#known.set(raw, address);
    return address;
  }

  #isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.#trusted.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

/** Whether `spec` is an address or a network `--trusted-proxy` accepts. */
export function isTrustedProxySpec(spec: string): boolean {
  try {
    addToList(new BlockList(), spec);
    return true;
  } catch {
    return false;
  }
}

function addToList(list: BlockList, spec: string): void {
  const [address = "", prefix, extra] = spec.trim().split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) throw new Error(`'${spec}' is not an IP address or network`);
  const type = family === 4 ? "ipv4" : "ipv6";
  if (prefix === undefined) return list.addAddress(address, type);
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128))
    throw new Error(`'${spec}' has a bad prefix length`);
  list.addSubnet(address, bits, type);
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
function normalize(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** What counts as one client for limits: an IPv4 address, or an IPv6 /64 (one host is usually given a whole /64). */
export function addressBucket(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIPv6(address);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : address;
}

function expandIPv6(address: string): string[] | undefined {
  const [head = "", tail] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  if (right.some((g) => g.includes(".")) || left.some((g) => g.includes("."))) return undefined; // embedded IPv4: keep as is
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}
