// Client addresses behind trusted proxies, and what counts as one client for limits (issue 18, finding 7).
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { ClientAddresses, addressBucket, isTrustedProxySpec } from "../../src/http/client-address.js";

const request = (remoteAddress: string, forwardedFor?: string | string[]) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

describe("client addresses", () => {
  it("X-Forwarded-For counts only through trusted proxies, read from the right", () => {
    const none = new ClientAddresses();
    assert.equal(none.of(request("10.0.0.5", "203.0.113.7")), "10.0.0.5", "no --trusted-proxy: the header is ignored");
    const proxies = new ClientAddresses(["10.0.0.0/8", "::1"]);
    assert.equal(proxies.of(request("10.0.0.5", "203.0.113.7")), "203.0.113.7");
    assert.equal(
      proxies.of(request("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.1.2.3")),
      "203.0.113.7",
      "a chain of trusted hops",
    );
    assert.equal(
      proxies.of(request("192.0.2.9", "203.0.113.7")),
      "192.0.2.9",
      "an untrusted peer cannot name another address",
    );
    assert.equal(
      proxies.of(request("::ffff:10.0.0.5", ["203.0.113.7", "10.0.0.6"])),
      "203.0.113.7",
      "repeated headers; IPv4-mapped peers",
    );
    assert.equal(proxies.of(request("::1", "junk, 203.0.113.7")), "203.0.113.7");
    assert.equal(proxies.of(request("::1", "203.0.113.7, junk")), "::1", "a hop that is no address ends the walk");
    assert.equal(proxies.of(request("10.0.0.5", "10.0.0.6")), "10.0.0.6", "only proxies: the leftmost");
  });

  it("an IPv6 client is its /64; IPv4 addresses are themselves", () => {
    assert.equal(addressBucket("203.0.113.7"), "203.0.113.7");
    assert.equal(addressBucket("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    assert.equal(addressBucket("2001:0db8:0001:0002:ffff:0:0:9"), "2001:db8:1:2::/64");
    assert.equal(addressBucket("::1"), "0:0:0:0::/64");
    assert.equal(addressBucket("fe80::1:2:3:4"), "fe80:0:0:0::/64");
  });

  it("--trusted-proxy takes addresses and networks only", () => {
    for (const ok of ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "0.0.0.0/0"]) assert.ok(isTrustedProxySpec(ok), ok);
    for (const bad of ["localhost", "10.0.0.0/33", "::1/129", "10.0.0.1/8/1", "", "10.0.0.0/x"])
      assert.ok(!isTrustedProxySpec(bad), bad);
  });
});
