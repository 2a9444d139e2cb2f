// The portal app: sign in, inbox, message view, downloads, sign out. Everything a recipient
// reads is sealed on the server and opened here with the private key that the password
// unwraps (docs/sealed-format.md). The key lives in this module's memory only: never in
// storage, gone on sign-out or reload. Text goes into the page with textContent only; the
// message body is shown in a sandboxed iframe (no scripts, opaque origin) under its own CSP.
import { S, lang } from "./strings.js";
import { base64urlDecode, deriveLogin, normalizeAddress, openSealed, parseBundle, unwrapBundle } from "./sealed.js";
import { bodyDocument, bodyFrame } from "./body-frame.js";

const $ = (id) => document.getElementById(id);
const INLINE_TYPES = new Set(["image/png", "image/gif", "image/jpeg", "image/webp"]);

// The signed-in session: { address, mailbox, key, point }. Null when signed out.
let session = null;
// Each message's render revision, from the mailbox index (message id -> rev).
const revisions = new Map();
// Bumped on every view change, so that a slow fetch cannot paint over a newer view.
let generation = 0;

class Damaged extends Error {}
class NotFound extends Error {}

// --- Words -------------------------------------------------------------------------------

function applyStrings() {
  document.documentElement.lang = lang;
  document.title = S.title;
  for (const el of document.querySelectorAll("[data-s]")) el.textContent = S[el.dataset.s];
}

function say(text) { $("status").textContent = text ?? ""; }
function fail(text) { $("error").textContent = text ?? ""; }

// --- Fetching and opening ----------------------------------------------------------------

// Sealed objects are fetched under their render's revision (`?r=`), which nginx lets the
// browser keep for good; everything else (app, portal.json, key bundles, indexes) is asked
// again each time, so that a re-render or a new message shows at once.
async function get(path, cache = "no-cache") {
  let response;
  try {
    response = await fetch(path, { cache, credentials: "omit", redirect: "error" });
  } catch {
    throw new Error(S.serverError);
  }
  if (response.status === 404) throw new NotFound(path);
  if (!response.ok) throw new Error(S.serverError);
  return response;
}

async function open(bytes, message, object) {
  try {
    return await openSealed(bytes, session.key, session.point, { mailbox: session.mailbox, message, object });
  } catch {
    throw new Damaged(S.damaged);
  }
}

async function openObject(message, object) {
  const s = session;
  const rev = revisions.get(message);
  let response;
  try {
    const path = `m/${encodeURIComponent(s.mailbox)}/${encodeURIComponent(message)}/${encodeURIComponent(object)}`;
    response = rev ? await get(`${path}?r=${encodeURIComponent(rev)}`, "default") : await get(path);
  } catch (e) {
    // A missing object is as unreadable as a damaged one.
    if (e instanceof NotFound) throw new Damaged(S.damaged);
    throw e;
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (s !== session) throw new Error(S.signedOut);
  return open(bytes, message, object);
}

function parseJSON(bytes) {
  try {
    const o = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (!o || typeof o !== "object" || o.v !== 1) throw new Error();
    return o;
  } catch {
    throw new Damaged(S.damaged);
  }
}

// --- Views ---------------------------------------------------------------------------------

function show(view) {
  generation += 1;
  for (const id of ["signin", "inbox", "message"]) {
    $(id).hidden = id !== view;
    $(id).removeAttribute("aria-busy");
  }
  $("who").hidden = !session;
  fail("");
  return generation;
}

function showSignIn() {
  show("signin");
  $("signin-heading").focus();
}

async function signIn(event) {
  event.preventDefault();
  const address = normalizeAddress($("address").value);
  const password = $("password").value;
  fail("");
  if (!address || !password) { fail(S.missingFields); return; }
  const button = $("signin-button");
  button.disabled = true;
  say(S.signingIn);
  try {
    const params = await (await get("portal.json")).json();
    if (!params || params.v !== 1) throw new NotFound("portal.json");
    const login = await deriveLogin(address, password, base64urlDecode(params.salt), params.iterations);
    const bundle = parseBundle(await (await get(`k/${login.locator}.json`)).text());
    const key = await unwrapBundle(bundle, login);
    session = { address, mailbox: bundle.mailbox, key, point: bundle.publicPoint };
    $("password").value = "";
    $("signed-in-as").textContent = S.signedInAs(address);
    await showInbox();
  } catch (e) {
    say("");
    // No portal.json yet (no mail at all), no bundle, a bundle that does not open: all the
    // same to the reader, so that an address cannot be told from a password.
    fail(e instanceof Error && e.message === S.serverError ? S.serverError : S.wrongLogin);
    $("password").focus();
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  session = null;
  revisions.clear();
  $("entries").replaceChildren();
  clearMessage();
  $("signed-in-as").textContent = "";
  $("signin-form").reset();
  showSignIn();
  say(S.signedOut);
}

function formatDate(text) {
  if (!text) return "";
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return text;
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

// A view being filled says so (aria-busy) until its content is in place: a screen reader
// waits for it, and so do the browser tests (the list it replaces is still on screen).
function busy(view, g) {
  $(view).setAttribute("aria-busy", "true");
  return () => { if (g === generation) $(view).removeAttribute("aria-busy"); };
}

async function showInbox() {
  const g = show("inbox");
  const done = busy("inbox", g);
  try { await fillInbox(g); } finally { done(); }
}

async function fillInbox(g) {
  const list = $("entries");
  say(S.loadingInbox);
  let index;
  try {
    index = await (await get(`m/${encodeURIComponent(session.mailbox)}/index.json`)).json();
  } catch (e) {
    if (!(e instanceof NotFound)) { if (g === generation) { say(""); fail(e.message); } return; }
    index = { entries: [] };
  }
  const entries = Array.isArray(index?.entries) ? index.entries : [];
  revisions.clear();
  for (const e of entries) if (typeof e?.id === "string" && typeof e.rev === "string") revisions.set(e.id, e.rev);
  const items = await Promise.all(entries.map(async (e) => {
    try {
      if (typeof e.id !== "string") throw new Damaged(S.damaged);
      return { id: e.id, received: e.received, doc: parseJSON(await open(base64urlDecode(e.entry), e.id, "entry")) };
    } catch {
      return { id: e.id, received: e.received, doc: null };
    }
  }));
  if (g !== generation) return;
  list.replaceChildren(...items.map(entryItem));
  say(items.length ? S.inboxCount(items.length) : S.emptyInbox);
  $("inbox-heading").focus();
}

function entryItem({ id, received, doc }) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "entry";
  const from = document.createElement("span");
  from.className = "from";
  const subject = document.createElement("span");
  subject.className = "subject";
  const date = document.createElement("span");
  date.className = "date";
  if (doc) {
    from.textContent = doc.from || S.unknownSender;
    subject.textContent = doc.subject || S.noSubject;
    date.textContent = formatDate(doc.date || received);
    if (typeof doc.otp_id === "string") date.append(" · ", S.protectedPDF(doc.otp_id));
    if (doc.attachments > 0) {
      const clip = document.createElement("span");
      clip.className = "count";
      clip.textContent = S.hasAttachments(doc.attachments);
      date.append(" · ", clip);
    }
    button.setAttribute("aria-label", S.openMessageLabel(from.textContent, subject.textContent, date.textContent));
    button.addEventListener("click", () => showMessage(id));
  } else {
    subject.textContent = S.damagedEntry;
    date.textContent = formatDate(received);
    button.disabled = true;
    li.className = "damaged";
  }
  button.append(from, subject, date);
  li.append(button);
  return li;
}

// --- One message -------------------------------------------------------------------------

function clearMessage() {
  $("message-subject").textContent = "";
  $("message-headers").replaceChildren();
  $("attachments").replaceChildren();
  $("message-notes").hidden = true;
  $("message-notes").textContent = "";
  $("message-receipt").hidden = true;
  $("message-receipt").textContent = "";
  // A fresh iframe per message: Chromium does not always load a srcdoc set on a frame that
  // was hidden and emptied before.
  $("message-frame").replaceChildren();
  $("message-files").hidden = true;
  $("message-otp").hidden = true;
  $("otp-id").textContent = "";
  $("otp-password").textContent = "";
}

function addresses(list) {
  if (!Array.isArray(list)) return "";
  return list.map((a) => (a && a.name ? `${a.name} <${a.address}>` : a?.address ?? "")).join(", ");
}

function header(dl, label, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

async function showMessage(id) {
  const g = show("message");
  const done = busy("message", g);
  try { await fillMessage(id, g); } finally { done(); }
}

async function fillMessage(id, g) {
  clearMessage();
  say(S.loadingMessage);
  $("back").focus();
  try {
    const doc = parseJSON(await openObject(id, "body"));
    const images = await inlineImages(id, doc.attachments);
    if (g !== generation) return;
    const subject = doc.subject || S.noSubject;
    $("message-subject").textContent = subject;
    const dl = $("message-headers");
    header(dl, S.fromLabel, addresses(doc.from));
    header(dl, S.toLabel, addresses(doc.to));
    header(dl, S.ccLabel, addresses(doc.cc));
    header(dl, S.dateLabel, formatDate(doc.date));
    const receipt = receiptToken(doc);
    if (receipt) {
      // Named by the envelope's sender (checked by the gateway), who gets the receipt.
      $("message-receipt").textContent = S.receiptNotice(typeof doc.sender === "string" ? doc.sender : "");
      $("message-receipt").hidden = false;
    }
    const notes = [];
    if (doc.blocked_remote_images > 0) notes.push(S.blockedImages(doc.blocked_remote_images));
    // Parts that could not be read: the rest is shown, the original stays downloadable.
    if (Array.isArray(doc.problems)) for (const p of doc.problems) if (typeof p === "string") notes.push(S.partProblem(p));
    const otp = showOTP(doc.otp);
    if (otp && !otp.portal_copy) {
      // OTP mode without a portal copy: the password is all there is to show.
      notes.push(S.otpOnly);
    }
    if (notes.length) {
      $("message-notes").replaceChildren(...notes.map((n) => { const li = document.createElement("li"); li.textContent = n; return li; }));
      $("message-notes").hidden = false;
    }
    if (!otp || otp.portal_copy) {
      $("message-frame").replaceChildren(bodyFrame(bodyDocument(String(doc.body ?? ""), images), S.bodyFrameTitle));
      fileButtons(id, doc);
    }
    say(S.messageOpened(subject));
    if (receipt) sendReceipt(receipt);
    $("message-subject").focus();
  } catch (e) {
    if (g !== generation) return;
    say("");
    fail(e instanceof Damaged ? S.damaged : e.message);
  }
}

// OTP mode (DESIGN §7): the password of the PDF that was mailed, under its password id,
// with a copy button. Returns the OTP details, or null for an ordinary message.
function showOTP(otp) {
  if (!otp || typeof otp.password !== "string" || typeof otp.password_id !== "string") return null;
  $("otp-intro").textContent = S.otpIntro(String(otp.file ?? ""));
  $("otp-id").textContent = otp.password_id;
  $("otp-password").textContent = otp.password;
  $("message-otp").hidden = false;
  return { portal_copy: otp.portal_copy !== false };
}

async function copyPassword() {
  const text = $("otp-password").textContent;
  try {
    await navigator.clipboard.writeText(text);
    say(S.otpCopied);
  } catch {
    // No clipboard (an http:// portal, or permission refused): select it for a manual copy.
    const range = document.createRange();
    range.selectNodeContents($("otp-password"));
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    fail(S.otpCopyFailed);
  }
}

// The read receipt (DESIGN §6) is asked for when the sealed message carries a token (it is
// there and nowhere else). Returns the token, or null for a message without a receipt.
function receiptToken(doc) {
  const token = doc.receipt;
  return typeof token === "string" && /^[A-Za-z0-9_-]{16,64}$/.test(token) ? token : null;
}

// Sent only once the message is shown, and only after a frame in which the notice that says
// so (#message-receipt) was on screen: the recipient is told before the sender is (issue 15;
// RFC 8098 expects the recipient to know). A tab in the background paints no frames, so its
// receipt goes when it is looked at. The answer does not matter; the sweep reads nginx's log.
function sendReceipt(token) {
  requestAnimationFrame(() => setTimeout(() => {
    fetch(`r/${token}`, { method: "GET", cache: "no-store", credentials: "omit", redirect: "error" }).catch(() => {});
  }, 0));
}

// Inline images, opened and turned into data: URLs keyed by object name ("att-3"). One that
// does not open is left out: the body is still worth showing.
async function inlineImages(id, attachments) {
  const map = new Map();
  const wanted = (Array.isArray(attachments) ? attachments : [])
    .filter((a) => a && a.inline && INLINE_TYPES.has(String(a.type).toLowerCase()) && typeof a.object === "string");
  await Promise.all(wanted.map(async (a) => {
    try {
      const bytes = await openObject(id, a.object);
      map.set(a.object, `data:${String(a.type).toLowerCase()};base64,${toBase64(bytes)}`);
    } catch { /* shown as a missing image */ }
  }));
  return map;
}

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fileButtons(id, doc) {
  const list = $("attachments");
  const parts = [
    ...(Array.isArray(doc.attachments) ? doc.attachments.filter((a) => a && !a.inline) : []),
    ...(Array.isArray(doc.messages) ? doc.messages : []),
  ];
  for (const part of parts) {
    if (!part || typeof part.object !== "string") continue;
    const fallback = part.type === "message/rfc822" ? S.unnamedMessage : S.unnamedAttachment;
    const name = part.name || fallback;
    list.append(fileButton(S.download(name, S.bytes(part.size ?? 0)), id, part.object, name,
                           part.type || "application/octet-stream"));
  }
  list.append(fileButton(S.downloadEml, id, "eml", emlName(doc.subject), "message/rfc822"));
  $("message-files").hidden = false;
}

// "Quarterly report.eml" from the subject, with what file systems dislike taken out.
function emlName(subject) {
  const base = String(subject ?? "").replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, " ").replace(/\s+/g, " ")
    .trim().replace(/^\.+/, "").slice(0, 80).trim();
  return base ? `${base}.eml` : S.emlFileName;
}

function fileButton(label, id, object, name, type) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "file";
  button.textContent = label;
  button.dataset.object = object;
  button.addEventListener("click", async () => {
    button.disabled = true;
    fail("");
    say(S.downloading(name));
    try {
      const bytes = await openObject(id, object);
      save(bytes, name, type);
      say(S.downloaded(name));
    } catch (e) {
      say("");
      fail(e instanceof Damaged ? S.attachmentDamaged(name) : e.message);
    } finally {
      button.disabled = false;
    }
  });
  li.append(button);
  return li;
}

function save(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked after the click has been handled; the download keeps its own reference.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// --- Start -----------------------------------------------------------------------------------

applyStrings();
$("signin-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("otp-copy").addEventListener("click", copyPassword);
$("back").addEventListener("click", () => { clearMessage(); showInbox(); });
show("signin");
