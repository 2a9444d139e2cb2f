// Node 18 (Debian 12's nodejs) has WebCrypto only as require("node:crypto").webcrypto; from
// Node 19 on it is globalThis.crypto, as in browsers. Imported first by the tests, so that
// www/assets/sealed.js finds it where a browser has it.
import { webcrypto } from "node:crypto";

if (!globalThis.crypto) globalThis.crypto = webcrypto;
