// The hub's outbound HTTP (ports/callout.ts) on node:http(s). The address check sits in the socket's own DNS lookup
// (and before the call for literal addresses), so the address checked is the address connected to: a DNS name that
// answers a public address to a first lookup and a private one to the second (DNS rebinding) cannot slip through.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP } from "node:net";
import {
  CalloutFailed,
  CalloutRefused,
  type Callout,
  type CalloutAnswer,
  type CalloutRequest,
} from "../../ports/callout.js";

/** Addresses no user-registered URL may reach unless allow-listed. */
function forbiddenAddresses(): BlockList {
  const list = new BlockList();
  for (const [net, bits] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["224.0.0.0", 3],
  ] as const)
    list.addSubnet(net, bits, "ipv4");
  for (const [net, bits] of [
    ["::", 128],
    ["::1", 128],
    ["fc00::", 7],
    ["fe80::", 10],
    ["ff00::", 8],
    ["64:ff9b::", 96],
    ["2001:db8::", 32],
  ] as const)
    list.addSubnet(net, bits, "ipv6");
  return list;
}

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function unmapped(address: string): { address: string; family: "ipv4" | "ipv6" } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: "ipv4" };
  return { address, family: isIP(address) === 6 ? "ipv6" : "ipv4" };
}

export interface CalloutPolicy {
  /** Host names, IP addresses or CIDR blocks (`10.1.0.0/16`) that may be called over `http:` and at private
   * addresses. Default: loopback only (`localhost`, `127.0.0.0/8`, `::1`). */
  allow: readonly string[];
}

export const defaultCalloutAllowList = ["localhost", "127.0.0.0/8", "::1"] as const;

export class HttpCallout implements Callout {
  private readonly forbidden = forbiddenAddresses();
  private readonly allowedAddresses = new BlockList();
  private readonly allowedNames = new Set<string>();

  constructor(policy: CalloutPolicy = { allow: defaultCalloutAllowList }) {
    for (const entry of policy.allow) {
      const [address, bits] = entry.split("/");
      if (address && isIP(address)) {
        const family = isIP(address) === 6 ? "ipv6" : "ipv4";
        if (bits === undefined) this.allowedAddresses.addAddress(address, family);
        else this.allowedAddresses.addSubnet(address, Number(bits), family);
      } else this.allowedNames.add(entry.toLowerCase());
    }
  }

  refusalOf(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return "not an absolute URL";
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
      return `the scheme '${parsed.protocol}' is not http or https`;
    if (parsed.username || parsed.password) return "a URL may not carry credentials";
    const host = hostOf(parsed);
    const listed = this.isListed(host);
    if (parsed.protocol === "http:" && !listed)
      return `http: is allowed only to allow-listed hosts (${host} is not; use https, or ask the hub's administrator to list it)`;
    if (isIP(host) && !listed) return this.addressRefusal(host);
    return undefined;
  }

  async post(request: CalloutRequest): Promise<CalloutAnswer> {
    const refusal = this.refusalOf(request.url);
    if (refusal) throw new CalloutRefused(`${request.url}: ${refusal}`);
    const url = new URL(request.url);
    const nameListed = this.allowedNames.has(hostOf(url));
    const started = performance.now();
    const limit = request.maxResponseBytes ?? 64 * 1024;
    return await new Promise<CalloutAnswer>((resolve, reject) => {
      let refusedAt: string | undefined;
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(
        url,
        {
          method: "POST",
          headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
          agent: false,
          lookup: (hostname, options, callback) => {
            dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
              if (error) return callback(error, "", 0);
              const chosen = addresses[0];
              if (!chosen) return callback(new Error(`${hostname} has no address`), "", 0);
              // Every answer is checked: the socket may try the others (happy eyeballs).
              for (const candidate of addresses) {
                const refused = nameListed ? undefined : this.addressRefusal(candidate.address);
                if (refused) {
                  refusedAt = `${hostname} resolves to ${candidate.address}: ${refused}`;
                  return callback(new CalloutRefused(refusedAt), "", 0);
                }
              }
              if ((options as { all?: boolean }).all)
                (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
              else callback(null, chosen.address, chosen.family);
            });
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          let truncated = false;
          res.on("data", (chunk: Buffer) => {
            if (size >= limit) {
              truncated = true;
              return;
            }
            const room = limit - size;
            if (chunk.length > room) truncated = true;
            chunks.push(chunk.subarray(0, room));
            size += Math.min(room, chunk.length);
          });
          res.on("end", () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
              truncated,
              durationMs: performance.now() - started,
            });
          });
          res.on("error", (error) => fail(error));
        },
      );
      const fail = (error: Error, timedOut = false) => {
        clearTimeout(timer);
        req.destroy();
        if (refusedAt) reject(new CalloutRefused(`${request.url}: ${refusedAt}`));
        else if (error instanceof CalloutRefused || error instanceof CalloutFailed) reject(error);
        else reject(new CalloutFailed(`${request.url}: ${error.message}`, timedOut));
      };
      const timer = setTimeout(
        () => fail(new CalloutFailed(`${request.url}: no answer within ${request.timeoutMs} ms`, true), true),
        request.timeoutMs,
      );
      req.on("error", (error) => fail(error));
      req.end(request.body);
    });
  }

  private isListed(host: string): boolean {
    if (this.allowedNames.has(host)) return true;
    if (!isIP(host)) return false;
    const { address, family } = unmapped(host);
    return this.allowedAddresses.check(address, family);
  }

  private addressRefusal(raw: string): string | undefined {
    const { address, family } = unmapped(raw);
    if (this.allowedAddresses.check(address, family)) return undefined;
    if (this.forbidden.check(address, family))
      return `${raw} is a private, loopback or reserved address (ask the hub's administrator to allow-list it)`;
    return undefined;
  }
}

/** The URL's host without IPv6 brackets, lower case. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
}
