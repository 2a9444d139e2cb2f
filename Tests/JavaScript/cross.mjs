#!/usr/bin/env node
// For the Swift tests: one JSON request on stdin, one JSON answer on stdout, so that Swift can
// check that what it seals WebCrypto opens and the other way round. Binary values are
// unpadded base64url, as in docs/sealed-format-vectors.json.
//   {"op":"seal","plaintext","recipient_public","context"}                 -> {"sealed"}
//   {"op":"open","sealed","recipient_private_hex","recipient_public","context"} -> {"plaintext"}
//   {"op":"unwrap","bundle_json","address","password","installation_salt","iterations"
//    [,"sealed","context"]}                                                -> {"locator"[,"opened"]}
// The unwrapped key is non-extractable by design, so "unwrap" proves it by opening "sealed".
// Errors: {"error":"…"} on stdout and exit status 1.
import "./webcrypto-global.mjs";
import {
  deriveLogin, parseBundle, unwrapBundle, openSealed, seal, base64urlEncode, base64urlDecode, hexToBytes,
} from "../../www/assets/sealed.js";

// The same JWK route sealed.js takes, since a test-supplied scalar is the only way in here.
async function privateKey(hex, point) {
  const b = base64urlEncode;
  return crypto.subtle.importKey("jwk",
    { kty: "EC", crv: "P-256", d: b(hexToBytes(hex)), x: b(point.subarray(1, 33)), y: b(point.subarray(33)) },
    { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
}

function context(r) {
  const c = r.context ?? {};
  for (const k of ["mailbox", "message", "object"]) if (typeof c[k] !== "string") throw new Error(`context.${k} is missing`);
  return c;
}

const ops = {
  async seal(r) {
    const sealed = await seal(base64urlDecode(r.plaintext), base64urlDecode(r.recipient_public), context(r));
    return { sealed: base64urlEncode(sealed) };
  },
  async open(r) {
    const point = base64urlDecode(r.recipient_public);
    const key = await privateKey(r.recipient_private_hex, point);
    return { plaintext: base64urlEncode(await openSealed(base64urlDecode(r.sealed), key, point, context(r))) };
  },
  async unwrap(r) {
    const login = await deriveLogin(r.address, r.password, base64urlDecode(r.installation_salt), r.iterations ?? 600000);
    const bundle = parseBundle(r.bundle_json);
    const key = await unwrapBundle(bundle, login);
    if (r.sealed === undefined) return { locator: login.locator };
    const opened = await openSealed(base64urlDecode(r.sealed), key, bundle.publicPoint, context(r));
    return { locator: login.locator, opened: base64urlEncode(opened) };
  },
};

try {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const request = JSON.parse(text);
  if (!Object.hasOwn(ops, request?.op)) throw new Error(`unknown op ${JSON.stringify(request?.op)}`);
  process.stdout.write(JSON.stringify(await ops[request.op](request)) + "\n");
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e.message || String(e) }) + "\n");
  process.exitCode = 1;
}
