// The human log format (modelhub serve --log-format human): what a person reads on a terminal, and what nothing in a
// request (a path, a user id, an error message) can forge or use to drive the terminal.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultLogFormat, humanLines, humanLogStream } from "../../src/background/log-format.js";

const time = Date.UTC(2026, 11, 7, 3, 55, 1, 123);

describe("human log lines", () => {
  it("a request is one line: time, level, user, method, path, status, duration", () => {
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: "h",
      reqId: "r",
      user: "alice",
      req: { method: "GET", url: "/imodels?iTwinId=x" },
      res: { statusCode: 200 },
      responseTime: 3.14,
      msg: "request completed",
    });
    assert.deepEqual(humanLines(line), ["2026-12-07 03:55:01.123Z INFO  alice GET /imodels?iTwinId=x 200 3.1 ms"]);
    const anonymous = JSON.stringify({
      level: 30,
      time,
      user: null,
      req: { method: "POST", url: "/x" },
      res: { statusCode: 401 },
      responseTime: 12.6,
      msg: "request completed",
    });
    assert.deepEqual(humanLines(anonymous), ["2026-12-07 03:55:01.123Z INFO  - POST /x 401 13 ms"]);
  });

  it("other events: message and fields as text; an error's stack frames indented below, its message never a line of its own", () => {
    const err = {
      message: "disk full\n2026-12-07 00:00:00.000Z INFO  forged",
      stack:
        "Error: disk full\n2026-12-07 00:00:00.000Z INFO  forged\n    at write (file.js:1:2)\n    at main (file.js:3:4)",
    };
    const lines = humanLines(JSON.stringify({ level: 50, time, reqId: "r1", err, msg: "unexpected error" }));
    assert.equal(
      lines[0],
      '2026-12-07 03:55:01.123Z ERROR unexpected error  reqId=r1 err="disk full\\n2026-12-07 00:00:00.000Z INFO  forged"',
    );
    assert.deepEqual(lines.slice(1), ["    at write (file.js:1:2)", "    at main (file.js:3:4)"]);
    assert.deepEqual(humanLines(JSON.stringify({ level: 40, time, iModelId: "abc", msg: "warned" })), [
      "2026-12-07 03:55:01.123Z WARN  warned  iModelId=abc",
    ]);
  });

  it("control characters from a request are escaped, never obeyed", () => {
    const [line] = humanLines(
      JSON.stringify({
        level: 30,
        time,
        user: "eve\u001b[2J",
        req: { method: "GET", url: "/a\r\nb" },
        res: { statusCode: 404 },
        responseTime: 1,
        msg: "request completed",
      }),
    );
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    assert.ok(!/[\u0000-\u001f]/.test(line!), line);
    assert.match(line!, /eve\\u001b\[2J GET \/a\\r\\nb 404/);
  });

  it("the stream writes whole lines; a line that is not JSON passes escaped; human on a terminal, JSON otherwise", () => {
    const out: string[] = [];
    const stream = humanLogStream((text) => out.push(text));
    stream.write(`${JSON.stringify({ level: 30, time, msg: "one" })}\n`);
    stream.write("not json\u0007\n");
    assert.deepEqual(out, ["2026-12-07 03:55:01.123Z INFO  one\n", "not json\\u0007\n"]);
    assert.equal(defaultLogFormat(true), "human");
    assert.equal(defaultLogFormat(false), "json");
    assert.equal(defaultLogFormat(undefined), "json");
  });
});
