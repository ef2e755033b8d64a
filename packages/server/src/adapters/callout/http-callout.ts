// The hub's outbound HTTP (ports/callout.ts) on node:http(s). Each call resolves the host once and checks every
// address (literal ones before the call); the socket then connects through a lookup that answers only the checked
// address, so the address checked is the address connected to: a DNS name that answers a public address to a first
// lookup and a private one to the second (DNS rebinding) cannot slip through. Connections are kept alive per checked
// destination (a new TCP connection per webhook delivery cost as much CPU as the rest of it).
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
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

/** Keep-alive agents kept (one per checked destination); beyond it the least recently used idle ones are closed. */
const MAX_AGENTS = 256;
/** An idle kept-alive connection is closed after this (under Node's own 5 s server keep-alive timeout, so the hub
 * seldom reuses one its peer is closing; a callback's `Keep-Alive: timeout` hint shortens it). */
const IDLE_SOCKET_MS = 4_000;

/** A reused connection was closed by the peer before the call got an answer: try once on a new one. */
class StaleConnection extends Error {}

function dnsLookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, url: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CalloutFailed(`${url}: no answer within ${ms} ms`, true)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class HttpCallout implements Callout {
  readonly #agents = new Map<string, HttpAgent>();
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
    const started = performance.now();
    const deadline = started + request.timeoutMs;
    const target = await this.#resolve(url, request);
    const agent = this.#agentFor(url, target);
    try {
      return await this.#send(url, target, agent, request, started, deadline);
    } catch (err) {
      // A kept-alive connection the callback closed while idle fails at once: once more on a new connection.
      if (!(err instanceof StaleConnection)) throw err;
      return await this.#send(url, target, agent, request, started, deadline);
    }
  }

  /**
   * The address to connect to, checked: a literal one was checked by `refusalOf`; a DNS name is resolved once here
   * and every address it answers is checked (unless the name is allow-listed). The socket then connects to one of
   * the addresses returned (the first, or another by happy eyeballs), through a lookup that answers only them: the
   * address checked is the address connected to.
   */
  async #resolve(url: URL, request: CalloutRequest): Promise<LookupAddress[]> {
    const host = hostOf(url);
    if (isIP(host)) return [{ address: host, family: isIP(host) }];
    const nameListed = this.allowedNames.has(host);
    let addresses: LookupAddress[];
    try {
      addresses = await withTimeout(dnsLookupAll(host), request.timeoutMs, request.url);
    } catch (err) {
      if (err instanceof CalloutFailed) throw err;
      throw new CalloutFailed(`${request.url}: ${(err as Error).message}`, false);
    }
    if (addresses.length === 0) throw new CalloutFailed(`${request.url}: ${host} has no address`, false);
    for (const candidate of addresses) {
      const refused = nameListed ? undefined : this.addressRefusal(candidate.address);
      if (refused) throw new CalloutRefused(`${request.url}: ${host} resolves to ${candidate.address}: ${refused}`);
    }
    return addresses;
  }

  /**
   * The keep-alive agent of one checked destination: scheme, host name, port and the addresses it was checked at.
   * A connection is reused only for a call whose own check found those same addresses (a name that now resolves
   * elsewhere gets another agent; nothing skips the check). Idle connections are closed after a few seconds.
   */
  #agentFor(url: URL, addresses: readonly LookupAddress[]): HttpAgent {
    const key = `${url.protocol}//${hostOf(url)}:${url.port}@${addresses.map((a) => a.address).join(",")}`;
    let agent = this.#agents.get(key);
    if (agent) {
      this.#agents.delete(key); // to the end: the map is kept in order of last use
    } else {
      const options = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: IDLE_SOCKET_MS };
      agent = url.protocol === "https:" ? new HttpsAgent(options) : new HttpAgent(options);
      for (const [oldKey, old] of this.#agents) {
        if (this.#agents.size < MAX_AGENTS) break;
        if (Object.keys(old.sockets).length > 0 || Object.keys(old.requests).length > 0) continue; // in use
        old.destroy();
        this.#agents.delete(oldKey);
      }
    }
    this.#agents.set(key, agent);
    return agent;
  }

  #send(
    url: URL,
    target: LookupAddress[],
    agent: HttpAgent,
    request: CalloutRequest,
    started: number,
    deadline: number,
  ): Promise<CalloutAnswer> {
    const limit = request.maxResponseBytes ?? 64 * 1024;
    return new Promise<CalloutAnswer>((resolve, reject) => {
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      let answered = false;
      const req = send(
        url,
        {
          method: "POST",
          headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
          agent,
          // A new connection goes to the checked addresses only (see #resolve).
          lookup: (_hostname, options, callback) => {
            if ((options as { all?: boolean }).all)
              (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, target);
            else callback(null, target[0]!.address, target[0]!.family);
          },
        },
        (res: IncomingMessage) => {
          answered = true;
          const chunks: Buffer[] = [];
          let size = 0;
          let truncated = false;
          res.on("data", (chunk: Buffer) => {
            // Read to the end (the connection is reused only then), keep at most `limit` bytes.
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
        const code = (error as { code?: string }).code;
        if (!timedOut && !answered && req.reusedSocket && (code === "ECONNRESET" || code === "EPIPE"))
          reject(new StaleConnection());
        else if (error instanceof CalloutRefused || error instanceof CalloutFailed) reject(error);
        else reject(new CalloutFailed(`${request.url}: ${error.message}`, timedOut));
      };
      const timer = setTimeout(
        () => fail(new CalloutFailed(`${request.url}: no answer within ${request.timeoutMs} ms`, true), true),
        Math.max(0, deadline - performance.now()),
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
