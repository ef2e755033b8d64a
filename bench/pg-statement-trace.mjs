// Preloaded into a `modelhub serve` process by the PostgreSQL statement count of `npm run bench -- nodes`
// (NODE_OPTIONS="--import <this file>", MODELHUB_BENCH_PG_TRACE=<file>): writes one JSON line per statement the
// hub's `pg` clients send (one message: several statements when the hub sends them together) — when it was sent and
// answered, on which connection, its text, and the HTTP request it was sent for. A request is followed through its
// async work by an AsyncLocalStorage entered where node:http announces it (the `http.server.request.start`
// diagnostics channel, published just before the server's `request` event); statements of background work (job
// polling, leases) carry no request. `after` marks statements sent once the request's answer was written
// (after-commit effects, audit rows). Not part of the hub: without the variable this module does nothing.
import { AsyncLocalStorage } from "node:async_hooks";
import diagnostics from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setInterval } from "node:timers";
import pg from "pg";

const file = process.env.MODELHUB_BENCH_PG_TRACE;
if (file) {
  const requests = new AsyncLocalStorage();
  let seq = 0;
  diagnostics.subscribe("http.server.request.start", (message) => {
    const { request, response } = message;
    const store = { n: ++seq, method: request.method, url: request.url, answered: false };
    response.once("finish", () => (store.answered = true));
    requests.enterWith(store);
  });
  let lines = [];
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, lines.join("\n") + "\n");
    lines = [];
  };
  setInterval(flush, 100).unref();
  process.on("exit", flush);
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, values, callback) {
    const text = typeof config === "string" ? config : config?.text;
    const r = requests.getStore();
    const start = performance.timeOrigin + performance.now();
    const after = r?.answered;
    const done = () =>
      lines.push(
        JSON.stringify({
          t: start,
          end: performance.timeOrigin + performance.now(),
          c: this.processID,
          q: text,
          ...(r ? { r: r.n, m: r.method, u: r.url, after } : {}),
        }),
      );
    const cb = typeof values === "function" ? values : callback;
    if (cb) {
      const wrapped = (...args) => (done(), cb(...args));
      return typeof values === "function"
        ? query.call(this, config, wrapped)
        : query.call(this, config, values, wrapped);
    }
    const result = query.call(this, config, values);
    if (result && typeof result.then === "function") result.then(done, done);
    else done();
    return result;
  };
}
