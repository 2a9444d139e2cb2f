// The message body's frame: the sanitized HTML fragment (made on the server by the sanitizer)
// placed in a whole document with its own CSP, shown in a sandboxed srcdoc iframe. Kept apart
// from the app so that the browser tests load exactly this code around every sanitizer output.
const BODY_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

// Sandboxed: no scripts, an opaque origin (so nothing in it reaches this page or its key),
// no forms, no top navigation; links open in a new tab, outside the sandbox.
export function bodyFrame(srcdoc, title) {
  const frame = document.createElement("iframe");
  frame.id = "message-body";
  frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.title = title;
  frame.srcdoc = srcdoc;
  return frame;
}

// A whole document for the iframe's srcdoc: its own CSP first, then the sanitized fragment.
// DOMParser builds an inert document (nothing runs, nothing loads), where the inline images
// get their data: URLs and every other image source is dropped. Looks are set with style
// attributes, not a <style> block, so that the page's CSP need allow inline attributes only.
export function bodyDocument(fragment, images) {
  const doc = new DOMParser().parseFromString("<!doctype html><html><head></head><body></body></html>", "text/html");
  const meta = doc.createElement("meta");
  meta.setAttribute("http-equiv", "Content-Security-Policy");
  meta.setAttribute("content", BODY_CSP);
  const charset = doc.createElement("meta");
  charset.setAttribute("charset", "utf-8");
  const referrer = doc.createElement("meta");
  referrer.setAttribute("name", "referrer");
  referrer.setAttribute("content", "no-referrer");
  const base = doc.createElement("base");
  base.setAttribute("target", "_blank");
  doc.head.append(charset, meta, referrer, base);
  doc.body.innerHTML = fragment;
  doc.body.setAttribute("style", "margin: 0.5rem; font: 16px/1.45 system-ui, sans-serif; color: #1b1b1b; "
    + "background: #fff; overflow-wrap: anywhere; word-break: break-word;");
  for (const img of doc.body.querySelectorAll("img")) {
    const src = img.getAttribute("src");
    if (src && images.has(src)) img.setAttribute("src", images.get(src));
    else img.removeAttribute("src");
    img.removeAttribute("srcset");
    img.style.maxWidth = "100%";
    img.style.height = "auto";
  }
  for (const el of doc.body.querySelectorAll("table")) el.style.maxWidth = "100%";
  for (const el of doc.body.querySelectorAll("pre")) el.style.whiteSpace = "pre-wrap";
  for (const a of doc.body.querySelectorAll("a[href]")) a.setAttribute("rel", "noopener noreferrer");
  return "<!doctype html>\n" + doc.documentElement.outerHTML;
}
