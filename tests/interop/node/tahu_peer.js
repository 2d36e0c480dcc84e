// Cross-decode peer: Eclipse Tahu's JavaScript Sparkplug B codec (npm sparkplug-payload).
//
//   node tahu_peer.js decode|encode < cases.json > results.json
//
// Input:  {"cases": [{"id": ..., "b64": "<payload bytes>"}]}        (decode)
//         {"cases": [{"id": ..., "payload": <Tahu user object>}]}  (encode)
// Output: {"results": [{"id": ..., "ok": true, "payload": ...} | {"id": ..., "ok": true, "b64": ...}
//                      | {"id": ..., "ok": false, "error": "..."}]}
//
// JSON has no 64-bit integers and no bytes, so both directions use two tags: {"$long": "<decimal>"}
// for a protobuf.js Long and {"$bytes": "<base64>"} for a byte array.
"use strict";

const Long = require("long");
const sparkplug = require("sparkplug-payload").get("spBv1.0");

function toJson(value) {
  if (value === null || value === undefined) return value === null ? null : undefined;
  if (Long.isLong(value)) return { $long: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toJson(v);
    }
    return out;
  }
  return value;
}

function fromJson(value) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(fromJson);
  if ("$long" in value) return Long.fromString(value.$long, value.$long.startsWith("-") ? false : true);
  if ("$bytes" in value) return new Uint8Array(Buffer.from(value.$bytes, "base64"));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = fromJson(v);
  return out;
}

function run(mode, input) {
  return input.cases.map((c) => {
    try {
      if (mode === "decode") {
        const payload = sparkplug.decodePayload(new Uint8Array(Buffer.from(c.b64, "base64")));
        return { id: c.id, ok: true, payload: toJson(payload) };
      }
      const bytes = sparkplug.encodePayload(fromJson(c.payload));
      return { id: c.id, ok: true, b64: Buffer.from(bytes).toString("base64") };
    } catch (err) {
      return { id: c.id, ok: false, error: String(err && err.message ? err.message : err) };
    }
  });
}

const mode = process.argv[2];
if (mode !== "decode" && mode !== "encode") {
  process.stderr.write("usage: node tahu_peer.js decode|encode < cases.json\n");
  process.exit(2);
}
const chunks = [];
process.stdin.on("data", (d) => chunks.push(d));
process.stdin.on("end", () => {
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(JSON.stringify({ results: run(mode, input) }));
});
