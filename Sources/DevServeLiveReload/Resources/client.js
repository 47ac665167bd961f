/*
 * devserve live-reload client, served at /__devserve/client.js and injected into HTML pages as
 *
 *   <script src="/__devserve/client.js" data-boot="B" data-version="V" defer></script>
 *
 * B is the server process's boot id and V the version of its change log when the page was served.
 *
 * Protocol: GET /__devserve/poll?boot=B&since=V (same origin, no-store) answers
 *   200 {"boot":B,"version":V2,"changes":[{"path":"/css/site.css","kind":"modified"}],"full":false}
 *       changes after V (kinds: created, modified, deleted); apply them, poll again since V2.
 *       "full":true means the server cannot say what changed: reload.
 *   200 {"boot":B2,"version":V2,"restarted":true}
 *       another server process: reload only if this document's ETag changed, else adopt B2/V2.
 *   204 after ~25 s without changes: poll again at once.
 *   GET /__devserve/poll with no parameters answers {"boot":B,"version":V} at once.
 * Network errors and 5xx: retry after 100 ms, doubling up to 2 s, forever.
 *
 * One tab per origin polls: the holder of the Web Lock "devserve-poll" posts every answer on the
 * BroadcastChannel "devserve", and every tab (the poller too) applies it. When the poller closes,
 * another tab gets the lock and polls from the newest version it heard. Without those APIs (not a
 * secure context, e.g. a LAN address over plain HTTP) each tab polls for itself.
 *
 * Applying changes: a changed .css file is swapped in place in every <link rel=stylesheet> that
 * loads or @imports it (the new sheet loads before the old one leaves). Other changes reload the
 * tab only when it uses the file: its document, or a resource it loaded (Performance API). The
 * scroll position is kept across the reload. Each action is logged as one "[devserve] ..." line.
 * The script tag's data-boot and data-version attributes follow what the client has applied.
 */
(() => {
  "use strict";

  const GUARD = Symbol.for("devserve.client");
  if (window[GUARD]) return;
  window[GUARD] = true;

  const POLL = "/__devserve/poll";
  const LOCK = "devserve-poll";
  const CHANNEL = "devserve";
  const MAX_DELAY = 2000;
  const SAVED = "devserve:" + location.href; // sessionStorage: where this tab was when it left
  const OLD = "data-devserve-old"; // marks a stylesheet element that is being replaced

  const log = (message) => console.log("[devserve] " + message);
  const script =
    document.currentScript || document.querySelector('script[src^="/__devserve/client.js"]');

  const state = {
    boot: null, // the server's boot id (string), null until known
    version: null, // the last change-log version applied (integer)
    baseline: Promise.resolve(null), // this document's fingerprint (ETag) when the client started
    resources: new Set(), // same-origin paths this page loaded
    queue: Promise.resolve(), // answers are applied one at a time, in order
    run: null, // the current run: { active, abort, channel, wake }
    reloading: false,
    replacing: new WeakMap(), // a stylesheet element still loading -> the one it replaces
  };

  // ---- Start, stop, bfcache ----------------------------------------------------------------

  function start() {
    if (state.run && state.run.active) return;
    const run = { active: true, abort: new AbortController(), channel: null, wake: null };
    state.run = run;
    if (!(navigator.locks && window.BroadcastChannel)) {
      poll(run, false);
      return;
    }
    run.channel = new BroadcastChannel(CHANNEL);
    run.channel.onmessage = (event) => {
      const data = event.data || {};
      if (data.type === "notice") enqueue(() => receive(data));
      else if (data.type === "wake") wake(run);
    };
    navigator.locks
      .request(LOCK, { signal: run.abort.signal }, () => (run.active ? poll(run, true) : null))
      .catch(() => {}); // aborted while waiting for the lock: this run was stopped
    // Hear what the poller announced before this tab listened (a no-wait request).
    enqueue(catchUp);
  }

  function stop() {
    const run = state.run;
    if (!run || !run.active) return;
    run.active = false;
    run.abort.abort(); // the poll in flight, a pending lock request
    wake(run);
    if (run.channel) run.channel.close();
  }

  function wake(run) {
    if (run.wake) run.wake();
  }

  // ---- Polling ---------------------------------------------------------------------------------

  async function poll(run, shared) {
    let delay = 100;
    let lost = false;
    while (run.active && !state.reloading) {
      try {
        const boot = state.boot;
        const since = state.version;
        const started = Date.now();
        const response = await request(run, pollURL(boot, since));
        const ok = response && response.status === 200;
        const body = ok ? await response.json().catch(() => null) : null;
        if (!run.active) break;
        if (body && typeof body === "object") {
          const notice = { type: "notice", since, body };
          if (shared && run.channel) run.channel.postMessage(notice);
          await enqueue(() => receive(notice));
        }
        const answered = body || (response && response.status === 204);
        if (answered && lost) log("reconnected");
        if (answered) lost = false;
        // Progress is an answer that moved this tab on, or a 204 after a real wait; anything
        // else (errors, refusals, a server answering instantly without news) backs off.
        const moved = body && (state.boot !== boot || state.version !== since);
        const waited = response && response.status === 204 && Date.now() - started > 1000;
        if (moved || waited) {
          delay = 100;
          continue;
        }
        if (!lost && !answered) {
          log(response ? `poll answered ${response.status}; retrying` : "connection lost; retrying");
          lost = true;
        }
      } catch (error) {
        log("error: " + error);
      }
      await sleep(run, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    }
  }

  function pollURL(boot, since) {
    return boot === null ? POLL : `${POLL}?boot=${encodeURIComponent(boot)}&since=${since}`;
  }

  // A fetch that resolves to the Response, or null on a network error or abort (of `run`).
  function request(run, url, init) {
    const options = { cache: "no-store", credentials: "same-origin", signal: run && run.abort.signal };
    return fetch(url, Object.assign(options, init)).catch(() => null);
  }

  async function getJSON(url) {
    const response = await request(state.run, url);
    if (!response || response.status !== 200) return null;
    return response.json().catch(() => null);
  }

  function sleep(run, ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        run.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      run.wake = done;
    });
  }

  function enqueue(task) {
    state.queue = state.queue.then(task).catch((error) => log("error: " + error));
    return state.queue;
  }

  // ---- Answers -----------------------------------------------------------------------------

  // One poll answer ({ since, body }), heard by polling or from the poller tab.
  async function receive({ since, body }) {
    if (!body || typeof body !== "object" || state.reloading) return;
    const boot = body.boot == null ? null : String(body.boot);
    const version = toVersion(body.version);
    if (boot === null || version === null) return;
    if (state.boot === null) return adopt(boot, version);
    if (boot !== state.boot) {
      // A restart, told directly or by a poller that already moved to the new boot.
      const adopted = await restarted(boot, body.restarted ? version : toVersion(since));
      if (!adopted || body.restarted) return;
    } else if (body.restarted) {
      return; // already adopted
    }
    if (version <= state.version) return; // already applied
    const from = toVersion(since);
    if (from !== null && from > state.version) return catchUp(); // this tab missed notices
    if (!Array.isArray(body.changes)) return catchUp();
    return apply(body, version);
  }

  // Asks where the server stands (answered at once) and fetches what this tab has not applied.
  async function catchUp() {
    const now = await getJSON(POLL);
    if (!now || state.reloading || now.boot == null) return;
    const boot = String(now.boot);
    const version = toVersion(now.version);
    if (version === null) return;
    if (state.boot === null) return adopt(boot, version);
    if (boot !== state.boot) return void (await restarted(boot, version));
    if (version <= state.version) return;
    const since = state.version;
    const body = await getJSON(pollURL(state.boot, since)); // answered at once: there is news
    if (body && (Array.isArray(body.changes) || body.restarted)) await receive({ since, body });
  }

  // A new server process: reload if this document changed, else carry on from its version.
  async function restarted(boot, version) {
    const before = await state.baseline;
    const now = await fingerprint();
    if (now === null || state.reloading) return false; // unreachable again: retry on the next answer
    if (before === null || now !== before) {
      reload("server restarted and this page changed");
      return false;
    }
    adopt(boot, version === null ? 0 : version);
    log("server restarted; this page is unchanged");
    return true;
  }

  function adopt(boot, version) {
    state.boot = boot;
    state.version = version;
    if (script) {
      script.dataset.boot = boot;
      script.dataset.version = String(version);
    }
  }

  async function apply(body, version) {
    adopt(state.boot, version);
    if (body.full) return reload("the server asked every page to reload");
    const used = usedPaths();
    const reasons = [];
    const styles = [];
    const maybe = [];
    const ignored = [];
    for (const change of body.changes) {
      const path = change && typeof change.path === "string" ? normalize(change.path) : null;
      if (!path) continue;
      const kind = change.kind === "deleted" || change.kind === "created" ? change.kind : "changed";
      if (/\.css$/i.test(path) && kind !== "deleted") styles.push(path);
      else if (isUsed(path, used)) reasons.push(`${path} ${kind}`);
      else if (mayShowIn(path)) maybe.push(path);
      else ignored.push(path);
    }
    if (reasons.length === 0 && maybe.length > 0) {
      // A folder listing, or a page --spa serves from index.html: ask whether it changed.
      const before = await state.baseline;
      const now = await fingerprint();
      if (now !== null && now !== before) reasons.push(`${maybe[0]} changed (this page's content)`);
      else ignored.push(...maybe);
    }
    if (reasons.length > 0) return reload(list(reasons));
    for (const path of styles) {
      if (swapStyles(path, version) > 0) log("css swapped: " + path);
      else if (isUsed(path, used)) return reload(`${path} changed`);
      else ignored.push(path);
    }
    if (ignored.length > 0) log(`ignored: ${list(ignored)} (not used here)`);
  }

  function list(items) {
    if (items.length <= 3) return items.join(", ");
    return `${items.slice(0, 3).join(", ")} and ${items.length - 3} more`;
  }

  // ---- Which files this page uses ----------------------------------------------------------

  function pagePath() {
    return decode(location.pathname);
  }

  // The files that can be this document: /docs/ is /docs/index.html (or a listing), /about is
  // about.html (clean URLs).
  function documentPaths() {
    const page = pagePath();
    if (page.endsWith("/")) return [page, page + "index.html"];
    if (!hasExtension(page)) return [page, page + ".html", page + "/index.html"];
    return [page];
  }

  // A change that may alter this page without being one of its files: a file in the folder a
  // listing shows, or any HTML file under --spa (which serves index.html for extension-less paths).
  function mayShowIn(path) {
    const page = pagePath();
    if (page.endsWith("/")) return path.slice(0, path.lastIndexOf("/") + 1) === page;
    return /\.html?$/i.test(path) && !hasExtension(page);
  }

  function hasExtension(path) {
    return /\.[^/]*$/.test(path.slice(path.lastIndexOf("/") + 1));
  }

  function usedPaths() {
    const used = new Set(documentPaths());
    for (const path of state.resources) used.add(path);
    try {
      for (const entry of performance.getEntriesByType("resource")) addPath(used, entry.name);
    } catch (_) {}
    // What the DOM references now, for entries from before the client started that the
    // timing buffer (250 entries) dropped.
    const selector = "script[src], img[src], iframe[src], source[src], video[src], audio[src], link[href]";
    for (const element of document.querySelectorAll(selector)) {
      if (element.localName !== "link") addPath(used, element.src);
      else if (/stylesheet|icon|preload|manifest/i.test(element.rel)) addPath(used, element.href);
    }
    return used;
  }

  // Whether `path` (a file, or a folder that was deleted or moved) covers one of the used paths.
  function isUsed(path, used) {
    const folder = path.endsWith("/") ? path : path + "/";
    for (const candidate of used) {
      if (candidate === path || candidate.startsWith(folder)) return true;
    }
    return false;
  }

  // Observers see every resource entry, also past the timing buffer's 250.
  function watchResources() {
    try {
      const add = (entries) => entries.getEntries().forEach((entry) => addPath(state.resources, entry.name));
      new PerformanceObserver(add).observe({ type: "resource", buffered: true });
    } catch (_) {}
  }

  function addPath(set, url) {
    const path = localPath(url);
    if (path) set.add(path);
  }

  // The decoded URL path of a same-origin URL (query and fragment dropped), else null.
  function localPath(url) {
    try {
      const parsed = new URL(url, location.href);
      if (parsed.origin !== location.origin) return null;
      const path = decode(parsed.pathname);
      return path.startsWith("/__devserve/") ? null : path;
    } catch (_) {
      return null;
    }
  }

  function decode(path) {
    try {
      return decodeURIComponent(path);
    } catch (_) {
      return path;
    }
  }

  function normalize(path) {
    return path.startsWith("/") ? path : "/" + path;
  }

  function toVersion(value) {
    const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    return Number.isSafeInteger(number) && number >= 0 ? number : null;
  }

  // The document's validators as the server reports them now; null when it cannot be reached.
  // (The Performance API does not expose response headers, hence the HEAD request.)
  async function fingerprint() {
    // Asked as the browser asks for a page: a client-side route (--spa) answers with index.html
    // only to requests that accept HTML, and fetch's own default is */*.
    const response = await request(state.run, location.href, { method: "HEAD", headers: { Accept: "text/html" } });
    if (!response) return null;
    const header = (name) => response.headers.get(name) || "";
    const validator = header("ETag") || `${header("Last-Modified")} ${header("Content-Length")}`;
    return `${response.status} ${validator}`;
  }

  // ---- CSS in place --------------------------------------------------------------------------

  // Swaps every stylesheet that loads or (transitively) imports `path`; returns how many.
  function swapStyles(path, version) {
    let swapped = 0;
    for (const link of document.querySelectorAll("link[href]")) {
      if (!/(^|\s)stylesheet(\s|$)/i.test(link.rel) || link.hasAttribute(OLD)) continue;
      if (localPath(link.href) === path || imports(sheetOf(link), path, 0)) {
        const clone = link.cloneNode(false);
        clone.href = bust(link.href, version);
        clone.removeAttribute("integrity"); // the content changed
        replaceWhenLoaded(link, clone);
        swapped += 1;
      }
    }
    for (const style of document.querySelectorAll("style")) {
      if (style.hasAttribute(OLD) || !imports(sheetOf(style), path, 0)) continue;
      const clone = style.cloneNode(false);
      clone.textContent = style.textContent.replace(
        /(@import\s+(?:url\(\s*)?)(["']?)([^"')\s;]+)\2/gi,
        (match, before, quote, url) => before + quote + bust(url, version) + quote,
      );
      replaceWhenLoaded(style, clone);
      swapped += 1;
    }
    return swapped;
  }

  // An element's sheet; while a replacement is still loading, the sheet of the one it replaces.
  function sheetOf(element) {
    const old = state.replacing.get(element);
    return old && old.isConnected ? old.sheet : element.sheet;
  }

  // Whether `sheet` @imports `path`, directly or through other imports it can read.
  function imports(sheet, path, depth) {
    if (!sheet || depth > 8) return false;
    let rules;
    try {
      rules = sheet.cssRules; // throws for cross-origin sheets
    } catch (_) {
      return false;
    }
    for (const rule of rules) {
      if (!(rule instanceof CSSImportRule)) {
        if (window.CSSLayerStatementRule && rule instanceof CSSLayerStatementRule) continue;
        break; // @import rules come first
      }
      const child = rule.styleSheet;
      const href = (child && child.href) || new URL(rule.href, sheet.href || document.baseURI).href;
      if (localPath(href) === path || imports(child, path, depth + 1)) return true;
    }
    return false;
  }

  // `url` (same origin only) with ?devserve=<version>, so the browser fetches it anew.
  function bust(url, version) {
    try {
      const parsed = new URL(url, document.baseURI);
      if (parsed.origin !== location.origin) return url;
      parsed.searchParams.set("devserve", String(version));
      return parsed.href;
    } catch (_) {
      return url;
    }
  }

  // Inserts `fresh` after `old` and removes `old` once `fresh` has loaded (or failed), so the
  // page is never without the styles.
  function replaceWhenLoaded(old, fresh) {
    old.setAttribute(OLD, "");
    state.replacing.set(fresh, old);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      old.remove();
    };
    fresh.addEventListener("load", finish, { once: true });
    fresh.addEventListener("error", finish, { once: true });
    setTimeout(finish, 10000); // neither event came: do not keep both forever
    old.after(fresh);
  }

  // ---- Reload and scroll position ------------------------------------------------------------

  function reload(reason) {
    if (state.reloading) return;
    state.reloading = true;
    log("reload: " + reason);
    remember(true);
    stop(); // a poller hands the lock to another tab at once
    location.reload();
  }

  // Notes where this tab was (for the page that comes next in it): scroll position and version.
  function remember(reloading) {
    try {
      const { boot, version } = state;
      const saved = { reloading, x: scrollX, y: scrollY, boot, version, time: Date.now() };
      sessionStorage.setItem(SAVED, JSON.stringify(saved));
    } catch (_) {}
  }

  function resume() {
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(SAVED));
      sessionStorage.removeItem(SAVED);
    } catch (_) {}
    if (!saved || typeof saved !== "object" || state.boot === null || saved.boot !== state.boot) return;
    const version = toVersion(saved.version);
    if (saved.reloading && Date.now() - saved.time < 60000) {
      // A page older than what this tab had applied (served from a cache): start from there.
      if (version > state.version) adopt(state.boot, version);
      const scroll = () => window.scrollTo(Number(saved.x) || 0, Number(saved.y) || 0);
      if (document.readyState === "complete") scroll();
      else window.addEventListener("load", scroll, { once: true });
    } else if (version !== null && version < state.version && navigationType() === "back_forward") {
      // Back/Forward takes subresources from the cache even when stale: replay what changed
      // since this tab left the page, so stale styles are swapped and stale scripts reloaded.
      state.version = version;
    }
  }

  function navigationType() {
    try {
      return performance.getEntriesByType("navigation")[0].type;
    } catch (_) {
      return "";
    }
  }

  // ---- Boot ------------------------------------------------------------------------------------

  try {
    const boot = script ? script.getAttribute("data-boot") : null;
    const version = toVersion(script ? script.getAttribute("data-version") : null);
    if (boot !== null && boot !== "" && version !== null) {
      state.boot = boot;
      state.version = version;
    }
    resume();
    watchResources();
    state.baseline = fingerprint();
    start();
    addEventListener("pagehide", () => {
      if (!state.reloading) remember(false);
      stop();
    });
    addEventListener("pageshow", (event) => {
      if (event.persisted && !state.reloading) start(); // back from the bfcache
    });
    const nudge = () => {
      const run = state.run;
      if (!run || !run.active) return;
      wake(run); // a poller backing off retries now
      if (run.channel) run.channel.postMessage({ type: "wake" });
    };
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") nudge();
    });
    addEventListener("online", nudge);
  } catch (error) {
    log("error: " + error);
  }
})();
