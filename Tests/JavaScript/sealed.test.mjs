// The WebCrypto side of the sealed format against the known answers that Python computed
// (docs/sealed-format-vectors.json). Run with: node --test Tests/JavaScript/
import "./webcrypto-global.mjs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  deriveLogin, normalizeAddress, parseBundle, unwrapBundle, wrapBundle, openSealed, seal,
  base64urlEncode, base64urlDecode, hexToBytes, bytesToHex, utf8,
} from "../../www/assets/sealed.js";

const vectors = JSON.parse(await readFile(new URL("../../docs/sealed-format-vectors.json", import.meta.url), "utf8"));
const { login: L, bundle: B, object: O } = vectors;
const ECDH = { name: "ECDH", namedCurve: "P-256" };

const recipientPublic = base64urlDecode(B.recipient_public);
const sealedVector = base64urlDecode(O.sealed);
const plaintextVector = base64urlDecode(O.plaintext);

// The full-strength login is slow on purpose (~0.3 s), so derive it once.
let vectorLogin;
const loginOfVectors = async () =>
  (vectorLogin ??= deriveLogin(L.address, L.password, base64urlDecode(L.installation_salt), L.iterations));

// A test-only key import that sealed.js does not need: PKCS#8 without the optional public key,
// so WebCrypto computes d·G itself. The public point then comes from outside the vectors' bytes.
const PKCS8_P256_PREFIX = hexToBytes("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420");
async function keyFromScalar(scalar) {
  const der = new Uint8Array([...PKCS8_P256_PREFIX, ...scalar]);
  const key = await crypto.subtle.importKey("pkcs8", der, ECDH, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return { key, point: new Uint8Array([4, ...base64urlDecode(jwk.x), ...base64urlDecode(jwk.y)]) };
}

async function freshPair() {
  const pair = await crypto.subtle.generateKey(ECDH, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const point = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, scalar: base64urlDecode(jwk.d), point };
}

test("login derives the locator of the vectors", async () => {
  const login = await loginOfVectors();
  assert.equal(login.locator, L.locator);
  assert.match(login.locator, /^[0-9a-f]{64}$/);
  assert.equal(login.wrapKey.extractable, false);
  assert.deepEqual([...login.wrapKey.usages].sort(), ["decrypt", "encrypt"]);
});

test("addresses are normalised by trimming and lower-casing", () => {
  assert.equal(normalizeAddress("  Bob@EXT.Example \n"), L.address);
});

test("the vectors' bundle unwraps with the vectors' login to the recipient key", async () => {
  const bundle = parseBundle(B.json);
  assert.equal(bundle.mailbox, B.mailbox);
  assert.deepEqual(bundle.publicPoint, recipientPublic);
  const key = await unwrapBundle(bundle, await loginOfVectors());
  assert.equal(key.extractable, false);
  assert.deepEqual(key.usages, ["deriveBits"]);
  const opened = await openSealed(sealedVector, key, bundle.publicPoint, O.context);
  assert.deepEqual(opened, plaintextVector);
});

test("wrapBundle reproduces the vectors' bundle JSON byte for byte", async () => {
  const json = await wrapBundle(hexToBytes(B.recipient_private_hex), recipientPublic, await loginOfVectors(),
                                B.mailbox, base64urlDecode(B.nonce));
  assert.equal(json, B.json);
});

test("the vectors' sealed object opens to the vectors' plaintext", async () => {
  const { key } = await keyFromScalar(hexToBytes(O.recipient_private_hex));
  const opened = await openSealed(sealedVector, key, recipientPublic, O.context);
  assert.deepEqual(opened, plaintextVector);
  assert.equal(new TextDecoder().decode(opened), "Grüße, Bob! Привет. 🔐 This is the sealed body.");
});

test("seal with the vectors' ephemeral key and nonce reproduces the vectors' sealed bytes", async () => {
  const scalar = hexToBytes(O.ephemeral_private_hex);
  const { point } = await keyFromScalar(scalar);
  const sealed = await seal(plaintextVector, recipientPublic, O.context,
                            { ephemeralPrivateScalar: scalar, ephemeralPublicPoint: point, nonce: base64urlDecode(O.nonce) });
  assert.equal(base64urlEncode(sealed), O.sealed);
});

test("a sealed object moved to another mailbox, message or object name is refused", async () => {
  const { key } = await keyFromScalar(hexToBytes(O.recipient_private_hex));
  for (const change of [{ mailbox: "0".repeat(32) }, { message: "m-2026-11-25-0002" }, { object: "body.html" }]) {
    await assert.rejects(openSealed(sealedVector, key, recipientPublic, { ...O.context, ...change }),
                         /does not open/, JSON.stringify(change));
  }
});

test("a truncated or altered sealed object is refused", async () => {
  const { key } = await keyFromScalar(hexToBytes(O.recipient_private_hex));
  const open = (bytes) => openSealed(bytes, key, recipientPublic, O.context);
  await assert.rejects(open(sealedVector.subarray(0, 4 + 65 + 12 + 15)), /bad header or truncated/);
  await assert.rejects(open(sealedVector.subarray(0, sealedVector.length - 1)), /does not open/);
  await assert.rejects(open(new Uint8Array(0)), /bad header or truncated/);
  const badMagic = sealedVector.slice(); badMagic[3] = 0x32; // "SPR2"
  await assert.rejects(open(badMagic), /bad header/);
  for (const at of [4 + 65, 4 + 65 + 12, sealedVector.length - 1]) { // nonce, ciphertext, tag
    const altered = sealedVector.slice(); altered[at] ^= 1;
    await assert.rejects(open(altered), /does not open/, `byte ${at}`);
  }
  const offCurve = sealedVector.slice(); offCurve[10] ^= 1; // ephemeral point no longer on the curve
  await assert.rejects(open(offCurve), /P-256 public point/);
});

test("a wrong password cannot unwrap the bundle", async () => {
  const salt = base64urlDecode(L.installation_salt);
  const pair = await freshPair();
  const right = await deriveLogin(L.address, "right password", salt, 1000);
  const wrong = await deriveLogin(L.address, "wrong password", salt, 1000);
  const otherAddress = await deriveLogin("eve@ext.example", "right password", salt, 1000);
  assert.notEqual(right.locator, wrong.locator);
  const bundle = parseBundle(await wrapBundle(pair.scalar, pair.point, right, B.mailbox));
  await unwrapBundle(bundle, right);
  await assert.rejects(unwrapBundle(bundle, wrong), /wrong address or password/);
  await assert.rejects(unwrapBundle(bundle, otherAddress), /wrong address or password/);
  await assert.rejects(unwrapBundle({ ...bundle, mailbox: "another" }, right), /does not open/);
});

test("a bundle whose public key was replaced is refused", async () => {
  const pair = await freshPair(), other = await freshPair();
  const login = await deriveLogin(L.address, "pw", base64urlDecode(L.installation_salt), 1000);
  const bundle = parseBundle(await wrapBundle(pair.scalar, pair.point, login, B.mailbox));
  await assert.rejects(unwrapBundle({ ...bundle, publicPoint: other.point }, login), /does not match/);
  await assert.rejects(wrapBundle(pair.scalar, other.point, login, B.mailbox), /does not match/);
});

test("a bundle that is not version 1 or not base64url is refused", () => {
  const good = JSON.parse(B.json);
  for (const bad of [{ ...good, v: 2 }, { ...good, pub: good.pub + "=" }, { ...good, nonce: "AAEC" }, { v: 1 }]) {
    assert.throws(() => parseBundle(JSON.stringify(bad)), /version 1|base64url/);
  }
  assert.throws(() => parseBundle("not json"), /version 1/);
});

test("seal then open round-trips with a fresh key pair", async () => {
  const { privateKey, point } = await freshPair();
  const context = { mailbox: B.mailbox, message: "m-1", object: "att-1.bin" };
  for (const plaintext of [new Uint8Array(0), utf8("hello"), Uint8Array.from({ length: 70000 }, (_, i) => (i * 31) & 255)]) {
    const sealed = await seal(plaintext, point, context);
    assert.equal(sealed.length, 4 + 65 + 12 + plaintext.length + 16);
    assert.deepEqual(await openSealed(sealed, privateKey, point, context), plaintext);
  }
  const a = await seal(utf8("same"), point, context), b = await seal(utf8("same"), point, context);
  assert.notEqual(bytesToHex(a), bytesToHex(b), "fresh ephemeral key and nonce each time");
});

test("base64url and hex helpers round-trip and match the vectors' encoding", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(257));
  for (let n = 0; n < 8; n++) assert.deepEqual(base64urlDecode(base64urlEncode(bytes.subarray(0, n))), bytes.subarray(0, n));
  assert.deepEqual(hexToBytes(bytesToHex(bytes)), bytes);
  assert.equal(bytesToHex(base64urlDecode(L.installation_salt)), bytesToHex(Uint8Array.from({ length: 32 }, (_, i) => i)));
  assert.throws(() => base64urlDecode("ab+/"), /base64url/);
  assert.throws(() => hexToBytes("abc"), /hex/);
});

test("ids with the separator or outside the alphabet are refused", async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const point = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  for (const bad of ["a|b", "", "ü", "a/b", "x".repeat(129)]) {
    await assert.rejects(seal(new Uint8Array([1]), point, { mailbox: "mbx", message: bad, object: "body" }), /not a valid id/);
  }
});
