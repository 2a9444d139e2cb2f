// Browser side of SealedInBrowserTests. Served by the installation's nginx from D/www/test/,
// beside the portal's own assets, so the import below is the very module the portal app uses
// to sign in and open mail (www/assets/sealed.js as `spoolrun setup` installed it).
//
// The test drives the page through window.sealedHarness: start(op, args) begins one
// operation and returns its id; result(id) is null while it runs, then
// {done: true, ok: true, value} or {done: true, ok: false, failure}. WebDriver's execute is
// synchronous, so the Swift side polls result() (bounded). The key is not "error": the
// Swift WebDriver client takes any answer whose value has an "error" key for a failed command. Binary values travel as unpadded
// base64url strings, as in docs/sealed-format-vectors.json; scalars as hex.
import {
  deriveLogin, parseBundle, unwrapBundle, wrapBundle, openSealed, seal,
  base64urlEncode, base64urlDecode, hexToBytes, bytesToHex,
} from "../assets/sealed.js";

const ECDH = { name: "ECDH", namedCurve: "P-256" };
const state = document.getElementById("state");

// A test-only key import that sealed.js does not need: PKCS#8 without the optional public
// key, so Chromium computes d·G itself. The point it reports is then Chromium's own, to be
// compared with OpenSSL's on the Swift side.
const PKCS8_P256_PREFIX = hexToBytes("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420");
async function keyFromScalar(hex) {
  const scalar = hexToBytes(hex);
  if (scalar.length !== 32) throw new Error("a P-256 scalar has 32 bytes");
  const der = new Uint8Array([...PKCS8_P256_PREFIX, ...scalar]);
  const key = await crypto.subtle.importKey("pkcs8", der, ECDH, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return { key, point: new Uint8Array([4, ...base64urlDecode(jwk.x), ...base64urlDecode(jwk.y)]) };
}

function context(args) {
  const c = args.context ?? {};
  for (const k of ["mailbox", "message", "object"]) {
    if (typeof c[k] !== "string") throw new Error(`harness: context.${k} is missing`);
  }
  return { mailbox: c.mailbox, message: c.message, object: c.object };
}

function login(args) {
  for (const k of ["address", "password", "salt"]) {
    if (typeof args[k] !== "string") throw new Error(`harness: ${k} is missing`);
  }
  if (!Number.isInteger(args.iterations)) throw new Error("harness: iterations is missing");
  return deriveLogin(args.address, args.password, base64urlDecode(args.salt), args.iterations);
}

async function fetchBytes(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`harness: HTTP ${response.status} for ${path}`);
  return {
    bytes: new Uint8Array(await response.arrayBuffer()),
    type: response.headers.get("content-type"),
    cacheControl: response.headers.get("cache-control"),
  };
}

const ops = {
  // Where the page runs and what it has: WebCrypto's subtle exists in secure contexts only.
  async environment() {
    return {
      secure: window.isSecureContext,
      subtle: typeof globalThis.crypto?.subtle?.deriveBits === "function",
      origin: location.origin,
      module: new URL("../assets/sealed.js", import.meta.url).href,
      userAgent: navigator.userAgent,
    };
  },

  // Chromium's d·G for a scalar.
  async publicPoint(args) {
    return { point: base64urlEncode((await keyFromScalar(args.scalar_hex)).point) };
  },

  async login(args) {
    return { locator: (await login(args)).locator };
  },

  // A key bundle for the given pair under the given login (nonce optional, for the vectors).
  async wrapBundle(args) {
    const l = await login(args);
    const nonce = args.nonce === undefined ? undefined : base64urlDecode(args.nonce);
    const json = await wrapBundle(hexToBytes(args.scalar_hex), base64urlDecode(args.point), l, args.mailbox, nonce);
    return { locator: l.locator, json };
  },

  // The portal's sign-in without the network: derive, parse, unwrap (non-extractable key),
  // and prove the key by opening a sealed object with it.
  async unwrapAndOpen(args) {
    const l = await login(args);
    const bundle = parseBundle(args.bundle_json);
    const key = await unwrapBundle(bundle, l);
    const opened = await openSealed(base64urlDecode(args.sealed), key, bundle.publicPoint, context(args));
    return { locator: l.locator, mailbox: bundle.mailbox, opened: base64urlEncode(opened) };
  },

  // The portal's sign-in over nginx: k/<locator>.json, then m/<mailbox>/<message>/<object>.
  async fetchAndOpen(args) {
    const l = await login(args);
    const bundleFile = await fetchBytes(`../k/${l.locator}.json`);
    const bundle = parseBundle(new TextDecoder().decode(bundleFile.bytes));
    const key = await unwrapBundle(bundle, l);
    const object = await fetchBytes(`../m/${bundle.mailbox}/${args.message}/${args.object}`);
    const opened = await openSealed(object.bytes, key, bundle.publicPoint,
                                    { mailbox: bundle.mailbox, message: args.message, object: args.object });
    return { locator: l.locator, mailbox: bundle.mailbox, opened: base64urlEncode(opened),
             type: object.type, cacheControl: object.cacheControl };
  },

  // Opens with a recipient key imported from its scalar (the point Chromium computes is
  // returned too); `point` is the recipient point that goes into the object key.
  async open(args) {
    const { key, point } = await keyFromScalar(args.scalar_hex);
    const opened = await openSealed(base64urlDecode(args.sealed), key, base64urlDecode(args.point), context(args));
    return { opened: base64urlEncode(opened), computedPoint: base64urlEncode(point) };
  },

  // Seals to a recipient point; a fixed ephemeral key and nonce only for the vectors.
  async seal(args) {
    const options = {};
    if (args.nonce !== undefined) options.nonce = base64urlDecode(args.nonce);
    if (args.ephemeral_scalar_hex !== undefined) {
      options.ephemeralPrivateScalar = hexToBytes(args.ephemeral_scalar_hex);
      options.ephemeralPublicPoint = base64urlDecode(args.ephemeral_point);
    }
    const sealed = await seal(base64urlDecode(args.plaintext), base64urlDecode(args.point), context(args), options);
    return { sealed: base64urlEncode(sealed) };
  },

  // SHA-256 in the browser, to compare large results without sending them back.
  async digest(args) {
    return { sha256: bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", base64urlDecode(args.bytes)))) };
  },
};

const jobs = new Map();
let lastId = 0;

function start(op, args) {
  const id = ++lastId;
  jobs.set(id, null);
  Promise.resolve()
    .then(() => {
      if (!Object.hasOwn(ops, op)) throw new Error(`harness: unknown op ${JSON.stringify(op)}`);
      return ops[op](args ?? {});
    })
    .then((value) => jobs.set(id, { done: true, ok: true, value }),
          (e) => jobs.set(id, { done: true, ok: false, failure: String(e?.message ?? e) }));
  return id;
}

// null while running; a finished job is handed out once and forgotten.
function result(id) {
  const r = jobs.get(id) ?? null;
  if (r !== null) jobs.delete(id);
  return r;
}

window.sealedHarness = { start, result };
state.textContent = "ready";
