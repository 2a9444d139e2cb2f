// Sealed mailboxes in the browser: the login derivation, the key bundle and sealed objects,
// byte-compatible with Sources/Crypto/Sealing.swift and docs/sealed-format-vectors.json.
// Plain WebCrypto, so the same file runs in browsers and in Node 20 (globalThis.crypto).
const { subtle } = globalThis.crypto;
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const MAGIC = [0x53, 0x50, 0x52, 0x31]; // "SPR1"
const POINT = 65, NONCE = 12, TAG = 16, HEADER = MAGIC.length + POINT + NONCE;

export const utf8 = (s) => new TextEncoder().encode(s);

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function hexToBytes(hex) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error("not an even-length hex string");
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

// Unpadded base64url, as Swift's Base64URL writes it (file names and JSON stay unescaped).
export function base64urlEncode(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64urlDecode(text) {
  // Strict: atob alone would also take padding, whitespace and the standard alphabet.
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error("not unpadded base64url");
  }
  return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}

export const normalizeAddress = (s) => s.trim().toLowerCase();

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

const freshNonce = () => globalThis.crypto.getRandomValues(new Uint8Array(NONCE));

// WebCrypto takes an IV of any length; the format has room for exactly 12 bytes.
function checkNonce(nonce) {
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE) throw new Error("a nonce has 12 bytes");
  return nonce;
}

const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function hkdf(ikm, salt, info) {
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: utf8(info) }, key, 256));
}

async function aesKey(raw, usages) {
  return subtle.importKey("raw", raw, "AES-GCM", false, usages);
}

// WebCrypto has no "raw" import for private EC keys; JWK is the one portable way in, and it
// wants the public coordinates beside d (x, y are the two halves of the uncompressed point).
// Not every browser checks x, y against d on import, and a bundle's "pub" is outside its
// AES-GCM tag, so the pair is proved by a probe ECDH both ways (Swift compares d·G instead).
async function importPair(scalar, point) {
  if (scalar.length !== 32 || point.length !== POINT || point[0] !== 0x04) throw new Error("not a P-256 key pair");
  const jwk = { kty: "EC", crv: "P-256", d: base64urlEncode(scalar),
                x: base64urlEncode(point.subarray(1, 33)), y: base64urlEncode(point.subarray(33)) };
  let key;
  try { key = await subtle.importKey("jwk", jwk, ECDH, false, ["deriveBits"]); } catch { key = null; }
  const probe = await subtle.generateKey(ECDH, false, ["deriveBits"]);
  if (!key || !equalBytes(await ecdh(key, probe.publicKey), await ecdh(probe.privateKey, await importPublic(point)))) {
    throw new Error("the private key does not match the public key");
  }
  return key;
}

async function importPublic(point) {
  try {
    return await subtle.importKey("raw", point, ECDH, false, []);
  } catch {
    throw new Error("not an uncompressed P-256 public point");
  }
}

const ecdh = async (privateKey, publicKey) =>
  new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: publicKey }, privateKey, 256));

export async function deriveLogin(address, password, installationSalt, iterations = 600000) {
  if (!(installationSalt instanceof Uint8Array) || installationSalt.length !== 32) {
    throw new Error("the installation salt has 32 bytes");
  }
  const salt = concat(utf8("spoolrun/v1/login"), installationSalt, utf8(address));
  const pw = await subtle.importKey("raw", utf8(password), "PBKDF2", false, ["deriveBits"]);
  // deriveBits rather than deriveKey: one master feeds two HKDF outputs, and WebCrypto
  // cannot chain PBKDF2 into an HKDF key portably. The master lives only in this frame.
  const master = new Uint8Array(await subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations }, pw, 256));
  const locator = bytesToHex(await hkdf(master, new Uint8Array(0), "spoolrun/v1/locator"));
  const wrapKey = await aesKey(await hkdf(master, new Uint8Array(0), "spoolrun/v1/wrap"), ["decrypt", "encrypt"]);
  master.fill(0);
  return { locator, wrapKey };
}

export function parseBundle(jsonText) {
  let o;
  try { o = JSON.parse(jsonText); } catch { o = null; }
  if (!o || o.v !== 1 || typeof o.mailbox !== "string") throw new Error("not a version 1 key bundle");
  const bundle = { mailbox: o.mailbox, publicPoint: base64urlDecode(o.pub),
                   nonce: base64urlDecode(o.nonce), wrapped: base64urlDecode(o.wrapped) };
  if (bundle.publicPoint.length !== POINT || bundle.nonce.length !== NONCE) throw new Error("not a version 1 key bundle");
  return bundle;
}

const bundleAAD = (mailbox) => utf8("spoolrun/v1/bundle|" + mailbox);

export async function unwrapBundle(bundle, login) {
  let d;
  try {
    d = new Uint8Array(await subtle.decrypt(
      { name: "AES-GCM", iv: bundle.nonce, additionalData: bundleAAD(bundle.mailbox) }, login.wrapKey, bundle.wrapped));
  } catch {
    throw new Error("the key bundle does not open: wrong address or password, or an altered bundle");
  }
  try {
    return await importPair(d, bundle.publicPoint);
  } finally {
    d.fill(0);
  }
}

export async function wrapBundle(privateScalar, publicPoint, login, mailbox, nonce = freshNonce()) {
  checkNonce(nonce);
  await importPair(privateScalar, publicPoint); // never publish a bundle that cannot unwrap
  const wrapped = new Uint8Array(await subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: bundleAAD(mailbox) }, login.wrapKey, privateScalar));
  // Written by hand, not JSON.stringify(object), so the key order is fixed like Swift's.
  return `{"v":1,"mailbox":${JSON.stringify(mailbox)},"pub":"${base64urlEncode(publicPoint)}",`
    + `"nonce":"${base64urlEncode(nonce)}","wrapped":"${base64urlEncode(wrapped)}"}`;
}

// The names are in the AAD so that a file copied to another mailbox, message or object name
// fails its tag instead of showing up where it does not belong.
// Ids are 1-128 characters of [A-Za-z0-9._-]: never "|", so the joined AAD names one place.
const ID = /^[A-Za-z0-9._-]{1,128}$/;
function objectAAD({ mailbox, message, object }) {
  for (const id of [mailbox, message, object]) {
    if (typeof id !== "string" || !ID.test(id)) throw new Error(`not a valid id: ${JSON.stringify(id)}`);
  }
  return utf8(`spoolrun/v1/object|${mailbox}|${message}|${object}`);
}

// Both points go into the HKDF salt so the key is bound to this exact pair, not only to the
// shared x-coordinate that ECDH returns.
async function objectKey(shared, ephemeralPoint, recipientPoint, usage) {
  return aesKey(await hkdf(shared, concat(ephemeralPoint, recipientPoint), "spoolrun/v1/seal"), [usage]);
}

export async function openSealed(bytes, privateKey, recipientPublicPoint, context) {
  if (bytes.length < HEADER + TAG || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new Error("not a sealed object (bad header or truncated)");
  }
  const ephemeralPoint = bytes.subarray(MAGIC.length, MAGIC.length + POINT);
  const nonce = bytes.subarray(MAGIC.length + POINT, HEADER);
  const shared = await ecdh(privateKey, await importPublic(ephemeralPoint));
  const key = await objectKey(shared, ephemeralPoint, recipientPublicPoint, "decrypt");
  try {
    // WebCrypto expects the tag appended to the ciphertext, which is exactly the file's tail.
    return new Uint8Array(await subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: objectAAD(context) }, key, bytes.subarray(HEADER)));
  } catch {
    throw new Error("the sealed object does not open: altered, or sealed for another recipient or place");
  }
}

export async function seal(plaintext, recipientPublicPoint, context, options = {}) {
  const nonce = checkNonce(options.nonce ?? freshNonce());
  let privateKey, ephemeralPoint;
  if (options.ephemeralPrivateScalar) {
    // Test vectors only. WebCrypto cannot compute d·G, so the caller brings the point too.
    if (!options.ephemeralPublicPoint) throw new Error("a fixed ephemeral key needs its public point too");
    privateKey = await importPair(options.ephemeralPrivateScalar, options.ephemeralPublicPoint);
    ephemeralPoint = options.ephemeralPublicPoint;
  } else {
    // The private half is never exported; only the public point is, to go into the file.
    const pair = await subtle.generateKey(ECDH, false, ["deriveBits"]);
    privateKey = pair.privateKey;
    ephemeralPoint = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  }
  const shared = await ecdh(privateKey, await importPublic(recipientPublicPoint));
  const key = await objectKey(shared, ephemeralPoint, recipientPublicPoint, "encrypt");
  const sealed = new Uint8Array(await subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: objectAAD(context) }, key, plaintext));
  return concat(MAGIC, ephemeralPoint, nonce, sealed);
}
