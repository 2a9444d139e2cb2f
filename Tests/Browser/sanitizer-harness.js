// Browser side of SanitizerInBrowserTests. The test copies this page to D/www/test/ of a
// scratch installation, where the installation's own nginx serves it under the portal's
// CSP headers, beside the portal's assets: the import below is the very module app.js uses
// to show a message body, so every fragment is framed exactly as the portal frames it.
//
// vectors.json (written by the test) is an array of {name, html}. The test drives the page
// through window.harness (its script calls return promises, which WebDriver awaits); every
// wait here is bounded.
import { bodyDocument, bodyFrame } from "../assets/body-frame.js";

// The portal hands bodyDocument() a map from the sanitizer's inline-image references
// ("att-N") to data: URLs of the decrypted parts. Here every reference gets a 1x1 PNG.
const PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

const frames = document.getElementById("frames");
const state = document.getElementById("state");
let vectors = [];

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The inline images a fragment refers to, found in an inert parse (nothing loads there).
function inlineImages(fragment) {
  const images = new Map();
  const doc = new DOMParser().parseFromString("<!doctype html><html><body></body></html>", "text/html");
  doc.body.innerHTML = fragment;
  for (const img of doc.body.querySelectorAll("img[src^='att-']")) images.set(img.getAttribute("src"), PIXEL);
  return images;
}

// One frame per fragment, built as the portal builds it.
function place(index, width, height) {
  const vector = vectors[index];
  const frame = bodyFrame(bodyDocument(vector.html, inlineImages(vector.html)), vector.name);
  frame.dataset.index = String(index);
  frame.style.width = width + "px";
  frame.style.height = height + "px";
  frame.style.border = "1px solid #888";
  frame.style.margin = "1px";
  const loaded = new Promise((resolve) => frame.addEventListener("load", () => resolve(true), { once: true }));
  frames.append(frame);
  return { index, loaded };
}

// Loads vectors.json; returns how many fragments it holds.
async function load() {
  const response = await fetch("vectors.json", { cache: "no-store" });
  if (!response.ok) throw new Error("vectors.json: HTTP " + response.status);
  vectors = await response.json();
  state.textContent = "ready: " + vectors.length;
  return vectors.length;
}

// Shows the fragments at `indices` together, in frames small enough that a whole batch
// stays inside the viewport (nothing is spared as off-screen), waits at most `timeoutMs`
// for every frame's load event, then `settleMs` more for anything late, then removes them.
// Returns the indices whose frame did not load in time.
async function run(indices, settleMs, timeoutMs) {
  frames.replaceChildren();
  const placed = indices.map((index) => place(index, 110, 80));
  const expired = sleep(timeoutMs).then(() => false);
  const results = await Promise.all(placed.map((p) => Promise.race([p.loaded, expired])));
  await sleep(settleMs);
  frames.replaceChildren();
  return placed.filter((_, i) => !results[i]).map((p) => p.index);
}

// Shows one fragment in a large frame and leaves it there (for a click by the test).
// Resolves to whether it loaded within `timeoutMs`.
async function show(index, timeoutMs) {
  frames.replaceChildren();
  const placed = place(index, 600, 400);
  return Promise.race([placed.loaded, sleep(timeoutMs).then(() => false)]);
}

window.harness = { load, run, show };
state.textContent = "module loaded";
