#!/usr/bin/python3
"""devserve's browser suite: live reload checked in real headless Chromium and Firefox.

    /usr/bin/python3 Tests/Browser/run.py --binary .build/debug/devserve [--tls]
    .build/browser-venv/bin/python Tests/Browser/run.py --browser firefox --binary .build/debug/devserve [--tls]

Makes a temporary site, starts devserve on it (`--port 0`, the port read from its start-up block),
drives Debian's chromium through chromedriver (python3-selenium), or Debian's firefox-esr over
Marionette (marionette-driver from PyPI, in a venv: Debian has no geckodriver), through one small
adapter class per browser, and checks that
  a. an HTML save reloads the page;
  b. a CSS save changes the computed style without a reload;
  c. a tab on a page that does not use the saved file is left alone;
  d. the scroll position survives a reload;
  e. ten tabs on one origin all get a CSS change, and an eleventh still loads (one shared poll:
     over HTTP/1.1 Chromium opens at most six connections per host);
  f. a server restart with unchanged files does not reload the tab, and later saves still arrive.
With --tls, devserve serves HTTPS with its local CA, which is trusted in a temporary NSS database
(no --ignore-certificate-errors): for Chromium the suite adds it to HOME/.pki/nssdb of a temporary
HOME; for Firefox it runs `devserve trust` itself against a temporary HOME holding a profile that
Firefox created (-CreateProfile) and started once (so its cert9.db exists), with the system anchor
folder pointed at a temporary one (DEVSERVE_TRUST_SYSTEM_ANCHORS). One more check runs:
  g. the page is a secure context with no certificate error, loaded over HTTP/2, and the live-reload
     poll runs over HTTP/2 too.
Every wait is bounded (about 5 s). Prints one line per check, then
`browser (BROWSER, SCHEME): N passed, M failed in S s`;
exits 1 when a check failed, 2 when the suite could not run.
"""

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

WAIT = 5.0  # seconds, for every wait on the browser
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# A page "reloaded" when the marker set before a save is gone; it was "left alone" when it is not.
SET_MARKER = "window.__marker = 1;"
MARKER = "return window.__marker === 1;"
# What the client has applied: it keeps its script tag's data-boot and data-version current.
CLIENT_STATE = """
const s = document.querySelector('script[src^="/__devserve/client.js"]');
return s ? [s.dataset.boot, Number(s.dataset.version)] : null;
"""
COLOR = "return getComputedStyle(document.body).color;"

FIREFOX = "/usr/bin/firefox-esr"


class BrowserError(Exception):
    """A command to the browser failed (a script mid-navigation, a closed tab...)."""


class CheckFailed(Exception):
    pass


# ---- The site -----------------------------------------------------------------------------------


def page(title, body, head=""):
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def index_html(heading):
    return page(
        "Home",
        f'<h1 id="title">{heading}</h1>\n<p><a href="/other.html">Other</a></p>\n<script src="/js/app.js"></script>',
        '<link rel="stylesheet" href="/css/site.css">\n',
    )


def long_html(heading):
    # The page turns the browser's own scroll restoration off, so only devserve's client can
    # bring the position back.
    paragraphs = "\n".join(f"<p>Paragraph {i}: some text to scroll past.</p>" for i in range(400))
    return page(
        "Long",
        f'<h1 id="title">{heading}</h1>\n{paragraphs}',
        '<link rel="stylesheet" href="/css/site.css">\n<script>history.scrollRestoration = "manual";</script>\n',
    )


def css(color):
    return f"body {{ color: {color}; font-family: sans-serif; }}\n"


def make_site(site):
    files = {
        "index.html": index_html("Home v1"),
        "other.html": page("Other", '<h1 id="title">Other</h1>', '<link rel="stylesheet" href="/css/other.css">\n'),
        "long.html": long_html("Long v1"),
        "css/site.css": css("rgb(1, 2, 3)"),
        "css/other.css": "h1 { font-style: italic; }\n",
        "js/app.js": "window.appLoaded = true;\n",
    }
    for name, text in files.items():
        save(site, name, text)


def save(site, name, text):
    """An editor's save: write the file and close it."""
    path = os.path.join(site, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ---- The server ---------------------------------------------------------------------------------


class Server:
    URL = re.compile(r"(https?)://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/")

    def __init__(self, binary, site, workdir, tls):
        self.binary, self.site, self.workdir, self.tls = binary, site, workdir, tls
        self.process = None
        self.port = 0
        self.scheme = "https" if tls else "http"
        self.output = collections.deque(maxlen=300)

    @property
    def base(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, port=0, timeout=10.0):
        # --spa: client-side routes get index.html (check h); the other checks use real files.
        command = [self.binary, self.site, "--port", str(port), "--spa"] + (["--tls"] if self.tls else [])
        # The local CA and certificates go to the temporary folder, not the user's.
        env = dict(os.environ, XDG_DATA_HOME=os.path.join(self.workdir, "xdg"))
        self.process = subprocess.Popen(
            command, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )
        found = threading.Event()

        def drain(process):
            for line in process.stdout:  # read to the end, so the server never blocks on a full pipe
                self.output.append(line.rstrip("\n"))
                match = self.URL.search(line)
                if match and not found.is_set():
                    self.scheme, self.port = match.group(1), int(match.group(2))
                    found.set()

        threading.Thread(target=drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"devserve did not print its URL: {' '.join(command)}\n" + self.tail())

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self):
        """Stops devserve and starts it again on the same port (retried while the port frees)."""
        port = self.port
        self.stop()
        for attempt in range(20):
            try:
                self.start(port=port)
                if self.port == port:
                    return
                raise RuntimeError(f"devserve came back on port {self.port}, not {port}")
            except RuntimeError:
                if attempt == 19:
                    raise
                time.sleep(0.1)

    def tail(self, lines=25):
        return "\n".join(list(self.output)[-lines:])


# ---- The browsers -------------------------------------------------------------------------------
#
# The checks talk to one small interface; each browser has an adapter for it:
#   run(source, *args)        a script in the page (`return` gives its value; window survives calls)
#   run_async(source)         an async script, done by calling its last argument
#   get(url)                  navigates the current tab; raises LoadTimeout when it takes too long
#   new_tab() / switch(h) / close_tab() / handles / current / title
#   page_load_timeout         seconds, settable
#   cert_error()              the certificate error the current tab shows, or None
#   console() / quit()


class LoadTimeout(Exception):
    pass


CERTUTIL = "/usr/bin/certutil"


def trust_ca(home, ca):
    """Makes HOME/.pki/nssdb (where Chromium on Linux reads trust) trusting only the suite's CA."""
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb, exist_ok=True)
    for command in (
        [CERTUTIL, "-N", "-d", f"sql:{nssdb}", "--empty-password"],
        [CERTUTIL, "-A", "-d", f"sql:{nssdb}", "-n", "devserve browser-suite CA", "-t", "C,,", "-i", ca],
    ):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Chromium:
    """Debian's chromium through chromedriver (python3-selenium)."""

    name = "chromium"

    @staticmethod
    def missing():
        try:
            import selenium  # noqa: F401
        except ImportError:
            return "python3-selenium is missing (apt-get install python3-selenium)"
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                return f"{path} is missing (apt-get install chromium chromium-driver)"
        return None

    def __init__(self, workdir, server, tls):
        from selenium import webdriver
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.chrome.service import Service

        self.TimeoutException, self.errors = TimeoutException, (WebDriverException,)
        home = os.path.join(workdir, "home")
        if tls:
            if not os.access(CERTUTIL, os.X_OK):
                raise RuntimeError(f"{CERTUTIL} is missing (apt-get install libnss3-tools)")
            trust_ca(home, os.path.join(workdir, "xdg", "devserve", "ca.pem"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={os.path.join(workdir, 'profile')}", "--window-size=1200,800", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # Over HTTPS the certificate must be trusted for real: Chromium reads HOME/.pki/nssdb.
        env = dict(os.environ, HOME=home) if tls else None
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)
        except WebDriverException as error:
            raise RuntimeError(str(error).strip()) from None
        self.page_load_timeout = WAIT * 2
        self.driver.set_script_timeout(WAIT)

    @property
    def page_load_timeout(self):
        return self._page_load

    @page_load_timeout.setter
    def page_load_timeout(self, seconds):
        self._page_load = seconds
        self.driver.set_page_load_timeout(seconds)

    def call(self, function, *args):
        try:
            return function(*args)
        except self.TimeoutException:
            raise LoadTimeout() from None
        except self.errors as error:
            raise BrowserError(str(error).strip()) from None

    def run(self, source, *args):
        return self.call(self.driver.execute_script, source, *args)

    def run_async(self, source):
        return self.call(self.driver.execute_async_script, source)

    def get(self, url):
        self.call(self.driver.get, url)

    def new_tab(self):
        self.call(self.driver.switch_to.new_window, "tab")
        return self.driver.current_window_handle

    def switch(self, handle):
        self.call(self.driver.switch_to.window, handle)

    def close_tab(self):
        self.call(self.driver.close)

    @property
    def handles(self):
        return self.driver.window_handles

    @property
    def current(self):
        return self.driver.current_window_handle

    @property
    def title(self):
        return self.driver.title

    def cert_error(self):
        return None  # Chromium's interstitial has no title "Home"; check g says so

    def console(self):
        try:
            return [entry.get("message", "") for entry in self.driver.get_log("browser")]
        except self.errors:
            return []

    def quit(self):
        self.driver.quit()


class Firefox:
    """Debian's firefox-esr over Marionette (marionette-driver, in .build/browser-venv)."""

    name = "firefox"
    PREFS = {
        "marionette.port": 0,  # any free port; Firefox writes it to MarionetteActivePort
        "browser.shell.checkDefaultBrowser": False,
        "browser.aboutwelcome.enabled": False,
        "browser.startup.homepage_override.mstone": "ignore",
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "app.update.disabledForTesting": True,
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
        "network.captive-portal-service.enabled": False,
        "dom.ipc.processCount": 2,
        "devtools.console.stdout.content": True,
    }

    @staticmethod
    def missing():
        try:
            import marionette_driver  # noqa: F401
        except ImportError:
            return "marionette-driver is missing (make test installs it into .build/browser-venv)"
        if not os.access(FIREFOX, os.X_OK):
            return f"{FIREFOX} is missing (apt-get install firefox-esr)"
        return None

    def __init__(self, workdir, server, tls):
        from marionette_driver import errors
        from marionette_driver.marionette import Marionette

        self.errors = errors
        self.home = os.path.join(workdir, "home")
        self.profile = os.path.join(workdir, "firefox-profile")
        self.log = collections.deque(maxlen=200)
        self.process = None
        os.makedirs(self.home, exist_ok=True)
        self.env = dict(
            os.environ, HOME=self.home, XDG_CONFIG_HOME=os.path.join(self.home, ".config"),
            MOZ_HEADLESS="1", MOZ_HEADLESS_WIDTH="1200", MOZ_HEADLESS_HEIGHT="800",
            MOZ_CRASHREPORTER_DISABLE="1",
        )
        # A profile made by Firefox itself, listed in HOME's profiles.ini, as a user's would be.
        subprocess.run(
            [FIREFOX, "--headless", "-CreateProfile", f"suite {self.profile}"], env=self.env, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
        )
        with open(os.path.join(self.profile, "user.js"), "w", encoding="utf-8") as f:
            for key, value in self.PREFS.items():
                f.write(f"user_pref({key!r}, {str(value).lower() if isinstance(value, bool) else repr(value)});\n"
                        .replace("'", '"'))
        if tls:
            # Firefox makes the profile's NSS database (cert9.db, key4.db) a moment after it starts:
            # start it once, wait until certutil can read that database, then stop it.
            self.start()
            self.wait_for_file(os.path.join(self.profile, "key4.db"), "key4.db in the new profile")
            self.wait_until_readable()
            self.stop()
            self.trust(server.binary, workdir)
        self.start()
        port_file = os.path.join(self.profile, "MarionetteActivePort")
        self.wait_for_file(port_file, "Firefox's Marionette port")
        with open(port_file, encoding="ascii") as f:
            port = int(f.read().strip())
        self.client = Marionette(host="127.0.0.1", port=port)
        self.client.start_session()
        self.client.timeout.script = WAIT
        self.page_load_timeout = WAIT * 2

    def trust(self, binary, workdir):
        """`devserve trust` in the temporary HOME: the suite's CA into the profile, system store in a temp folder."""
        env = dict(
            self.env, XDG_DATA_HOME=os.path.join(workdir, "xdg"),
            DEVSERVE_TRUST_SYSTEM_ANCHORS=os.path.join(workdir, "anchors"),
        )
        env.pop("DEVSERVE_TRUST_UPDATE_COMMAND", None)
        done = subprocess.run([binary, "trust"], env=env, capture_output=True, text=True, timeout=30)
        report = (done.stdout + done.stderr).strip()
        print("browser: devserve trust:\n    " + report.replace("\n", "\n    "))
        if done.returncode != 0 or f"Firefox NSS database {self.profile}: added" not in report:
            raise RuntimeError(f"devserve trust did not add the CA to {self.profile}")

    def start(self):
        for stale in ("MarionetteActivePort",):
            try:
                os.remove(os.path.join(self.profile, stale))
            except FileNotFoundError:
                pass
        self.process = subprocess.Popen(
            [FIREFOX, "--marionette", "-remote-allow-system-access", "--no-remote", "-profile", self.profile],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
        )
        process = self.process

        def drain():
            for line in process.stdout:
                self.log.append(line.rstrip("\n"))

        threading.Thread(target=drain, daemon=True).start()

    def wait_for_file(self, path, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not (os.path.exists(path) and os.path.getsize(path) > 0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"no {what} after {timeout:.0f} s\n" + "\n".join(list(self.log)[-10:]))
            time.sleep(0.05)

    def wait_until_readable(self, timeout=30.0):
        """Until `certutil -L` reads the profile's database (Firefox may still be writing it)."""
        deadline = time.monotonic() + timeout
        command = [CERTUTIL, "-L", "-d", f"sql:{self.profile}"]
        while subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"certutil could not read {self.profile}'s database after {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def page_load_timeout(self):
        return self._page_load

    @page_load_timeout.setter
    def page_load_timeout(self, seconds):
        self._page_load = seconds
        self.client.timeout.page_load = seconds

    def call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except self.errors.TimeoutException:
            raise LoadTimeout() from None
        except self.errors.MarionetteException as error:
            raise BrowserError(str(error).strip()) from None

    def run(self, source, *args):
        # sandbox=None: the page's own window, so a mark set on it survives between calls.
        return self.call(self.client.execute_script, source, script_args=args, sandbox=None, new_sandbox=False)

    def run_async(self, source):
        return self.call(self.client.execute_async_script, source, sandbox=None, new_sandbox=False)

    def get(self, url):
        try:
            self.call(self.client.navigate, url)
        except BrowserError:
            if self.cert_error() is None:
                raise

    def new_tab(self):
        handle = self.call(self.client.open, type="tab", focus=True)["handle"]
        self.switch(handle)
        return handle

    def switch(self, handle):
        self.call(self.client.switch_to_window, handle)

    def close_tab(self):
        self.call(self.client.close)

    @property
    def handles(self):
        return self.client.window_handles

    @property
    def current(self):
        return self.client.current_window_handle

    @property
    def title(self):
        return self.client.title

    def cert_error(self):
        """The code on Firefox's certificate error page (e.g. SEC_ERROR_UNKNOWN_ISSUER), else None."""
        try:
            return self.client.execute_script(
                """if (!document.documentURI.startsWith('about:certerror')
                       && !document.documentURI.startsWith('about:neterror')) return null;
                try { return document.getFailedCertSecurityInfo().errorCodeString; }
                catch (e) { return document.documentURI; }""",
                sandbox=None, new_sandbox=False,
            )
        except self.errors.MarionetteException:
            return None

    def console(self):
        return [line for line in self.log if "console" in line.lower()][-30:]

    def quit(self):
        try:
            self.client.delete_session()
        except Exception:
            pass
        self.stop()


BROWSERS = {"chromium": Chromium, "firefox": Firefox}


def wait_for(browser, condition, what, timeout=WAIT):
    """Polls `condition(browser)` until it is truthy; scripts that fail mid-navigation are retried."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition(browser)
            if value:
                return value
        except BrowserError:
            pass
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def script(source, *args):
    return lambda browser: browser.run(source, *args)


def reloaded_with(heading):
    """A condition: the page reloaded (no marker), finished loading, and shows `heading`."""
    return script(
        "return window.__marker === undefined && document.readyState === 'complete'"
        " && document.getElementById('title').textContent === arguments[0];",
        heading,
    )


def client_state(browser):
    return browser.run(CLIENT_STATE)


def load(browser, url):
    """Navigates the current tab and waits until devserve's client is on the page."""
    try:
        browser.get(url)
    except LoadTimeout:
        raise CheckFailed(f"{url} did not load within {browser.page_load_timeout:.0f} s") from None
    error = browser.cert_error()
    if error:
        raise CheckFailed(f"{url} shows a certificate error: {error}")
    wait_for(browser, lambda b: client_state(b) is not None, f"the live-reload script in {url}")


def new_tab(browser, url):
    handle = browser.new_tab()
    load(browser, url)
    return handle


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---- The checks ---------------------------------------------------------------------------------


class Suite:
    def __init__(self, driver, server, site):
        self.driver, self.server, self.site = driver, server, site
        self.home = driver.current
        self.colors = iter(f"rgb({10 * i}, {100 + i}, {200 - i})" for i in range(1, 20))

    def url(self, path):
        return self.server.base + path

    def reset(self):
        """Leaves one tab, on about:blank, between checks."""
        for handle in self.driver.handles:
            if handle != self.home:
                self.driver.switch(handle)
                self.driver.close_tab()
        self.driver.switch(self.home)
        self.driver.get("about:blank")

    def save_css(self):
        color = next(self.colors)
        save(self.site, "css/site.css", css(color))
        return color

    def html_save_reloads(self):
        """a. An HTML save reloads the page."""
        d = self.driver
        load(d, self.url("/"))
        d.run(SET_MARKER)
        save(self.site, "index.html", index_html("Home v2"))
        wait_for(d, reloaded_with("Home v2"), "the page to reload and show 'Home v2'")

    def css_save_swaps(self):
        """b. A CSS save changes the computed style without a reload."""
        d = self.driver
        load(d, self.url("/"))
        d.run(SET_MARKER)
        color = self.save_css()
        wait_for(d, lambda d: d.run(COLOR) == color, f"body color {color}")
        expect(d.run(MARKER), "the page reloaded (the marker is gone)")
        links = "return document.querySelectorAll('link[rel=stylesheet]').length;"
        wait_for(d, lambda d: d.run(links) == 1, "the old stylesheet to be removed")

    def other_tab_left_alone(self):
        """c. A tab on a page that does not use the saved file is left alone."""
        d = self.driver
        load(d, self.url("/other.html"))
        other = d.current
        d.run(SET_MARKER)
        home = new_tab(d, self.url("/"))
        d.run(SET_MARKER)
        save(self.site, "index.html", index_html("Home v3"))
        wait_for(d, reloaded_with("Home v3"), "index.html's tab to reload and show 'Home v3'")
        version = wait_for(d, client_state, "the reloaded page's client")[1]
        d.switch(other)
        wait_for(d, lambda d: client_state(d)[1] >= version, f"other.html's client to hear version {version}")
        expect(d.run(MARKER), "other.html reloaded though it does not use index.html")
        d.switch(home)

    def scroll_survives_reload(self):
        """d. The scroll position survives a reload."""
        d = self.driver
        load(d, self.url("/long.html"))
        d.run("window.scrollTo(0, 3000);")
        wait_for(d, script("return Math.round(window.scrollY) === 3000;"), "the page to scroll to 3000")
        d.run(SET_MARKER)
        save(self.site, "long.html", long_html("Long v2"))
        wait_for(d, reloaded_with("Long v2"), "long.html to reload and show 'Long v2'")
        try:
            wait_for(d, script("return Math.abs(window.scrollY - 3000) <= 1;"), "the scroll position 3000")
        except CheckFailed:
            raise CheckFailed(f"after the reload scrollY is {d.run('return window.scrollY;')}, not 3000")

    def ten_tabs_share_one_poll(self):
        """e. Ten tabs on one origin get a CSS change; an eleventh tab still loads."""
        d = self.driver
        load(d, self.url("/"))
        tabs = [d.current]
        for _ in range(9):
            tabs.append(new_tab(d, self.url("/")))
        for tab in tabs:
            d.switch(tab)
            d.run(SET_MARKER)
        color = self.save_css()
        for number, tab in enumerate(tabs, 1):
            d.switch(tab)
            wait_for(d, lambda d: d.run(COLOR) == color, f"tab {number} to get body color {color}")
            expect(d.run(MARKER), f"tab {number} reloaded on a CSS change")
        # Ten tabs each holding a poll would leave no connection for an eleventh page (six per host).
        d.page_load_timeout = WAIT
        try:
            new_tab(d, self.url("/other.html"))
        except CheckFailed as error:
            raise CheckFailed(f"an eleventh tab: {error}") from None
        finally:
            d.page_load_timeout = WAIT * 2
        # 127.0.0.1 is a secure context, so the tabs must have elected one poller.
        held = d.run_async(
            """const done = arguments[arguments.length - 1];
            if (!navigator.locks) return done(null);
            navigator.locks.query().then(s => done(s.held.filter(l => l.name === 'devserve-poll').length));"""
        )
        expect(held is not None, "navigator.locks is missing: the page is not a secure context")
        expect(held == 1, f"{held} tabs hold the poll lock, not 1")

    def restart_keeps_tab(self):
        """f. A restart with unchanged files does not reload the tab; later saves still arrive."""
        d = self.driver
        load(d, self.url("/"))
        d.run(SET_MARKER)
        boot = client_state(d)[0]
        self.server.restart()
        wait_for(d, lambda d: client_state(d)[0] != boot, "the client to adopt the new server's boot id")
        expect(d.run(MARKER), "the page reloaded after a restart with unchanged files")
        color = self.save_css()
        wait_for(d, lambda d: d.run(COLOR) == color, f"body color {color} after the restart")
        expect(d.run(MARKER), "the page reloaded on a CSS change after the restart")

    def spa_route_reloads(self):
        """h. (--spa) A client-side route, served index.html, reloads when index.html changes."""
        d = self.driver
        load(d, self.url("/app/route"))
        expect(d.title == "Home", f"the route got {d.title!r}, not index.html")
        d.run(SET_MARKER)
        save(self.site, "index.html", index_html("Home on a route"))
        wait_for(d, reloaded_with("Home on a route"), "the route to reload and show 'Home on a route'")

    def other_site_reads_nothing(self):
        """i. A page on another site (localhost is not 127.0.0.1's site) cannot load the folder's
        stylesheet, image or script into itself; the same page on the site itself can."""
        d = self.driver
        victim = self.url("")
        save(self.site, "secret.css", ':root { --secret: "42"; }\n')
        save(self.site, "secret.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="7" height="9"></svg>\n')
        save(self.site, "js/secret.js", "window.secretRan = true;\n")
        save(self.site, "probe.html", page(
            "Probe", f'<img id="img" src="{victim}/secret.svg">\n<script src="{victim}/js/secret.js"></script>',
            f'<link rel="stylesheet" href="{victim}/secret.css">\n'))
        read = """return document.readyState === 'complete' && [
            getComputedStyle(document.documentElement).getPropertyValue('--secret').trim(),
            document.getElementById('img').naturalWidth, window.secretRan === true];"""
        load(d, self.url("/probe.html"))
        same = wait_for(d, script(read), "the probe page on the site itself to finish loading")
        expect(same == ['"42"', 7, True], f"the site's own page read {same}, not the stylesheet, image and script")
        other = self.url("/probe.html").replace("://127.0.0.1:", "://localhost:", 1)
        load(d, other)
        got = wait_for(d, script(read), "the probe page on the other site to finish loading")
        expect(got == ["", 0, False], f"a page on another site read {got} (stylesheet, image width, script ran)")

    def https_without_warnings_over_http2(self):
        """g. (--tls) A secure page, no certificate error, HTTP/2 for the page and the poll."""
        d = self.driver
        load(d, self.url("/"))  # a certificate error shows the browser's error page, not this one
        expect(d.title == "Home", f"the page title is {d.title!r}: a certificate warning?")
        expect(d.run("return location.protocol;") == "https:", "the page is not https")
        expect(d.run("return window.isSecureContext;"), "the page is not a secure context")
        protocol = "return performance.getEntriesByType('navigation')[0].nextHopProtocol;"
        expect(d.run(protocol) == "h2", f"the page came over {d.run(protocol)!r}, not h2")
        color = self.save_css()
        wait_for(d, lambda d: d.run(COLOR) == color, f"body color {color}")
        polls = """return performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/__devserve/poll')).map(e => e.nextHopProtocol);"""
        used = d.run(polls)
        expect(used and all(p == "h2" for p in used), f"the polls went over {used}, not h2")

    CHECKS = [
        ("html save reloads the page", html_save_reloads),
        ("css save swaps without a reload", css_save_swaps),
        ("a tab on another page is left alone", other_tab_left_alone),
        ("scroll position survives a reload", scroll_survives_reload),
        ("ten tabs share one poll, an eleventh loads", ten_tabs_share_one_poll),
        ("restart with unchanged files keeps the tab", restart_keeps_tab),
        ("an spa route reloads when index.html changes", spa_route_reloads),
        ("a page on another site reads nothing", other_site_reads_nothing),
    ]


def main():
    parser = argparse.ArgumentParser(description="devserve's browser suite (headless Chromium or Firefox)")
    parser.add_argument("--binary", required=True, help="the devserve executable")
    parser.add_argument("--browser", choices=sorted(BROWSERS), default="chromium", help="the browser to drive")
    parser.add_argument("--tls", action="store_true", help="serve over HTTPS (HTTP/2) instead of HTTP/1.1")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the browser console after each check")
    args = parser.parse_args()
    Browser = BROWSERS[args.browser]
    checks = Suite.CHECKS + ([("https: trusted, no warning, HTTP/2", Suite.https_without_warnings_over_http2)]
                             if args.tls else [])
    total = len(checks)
    began = time.monotonic()

    def cannot_run(reason):
        print(f"browser: cannot run: {reason}", file=sys.stderr)
        print(f"browser ({args.browser}): 0 passed, {total} failed")
        return 2

    missing = Browser.missing()
    if missing:
        return cannot_run(missing)
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        return cannot_run(f"{args.binary} is not an executable")

    workdir = tempfile.mkdtemp(prefix="devserve-browser-")
    site = os.path.join(workdir, "site")
    make_site(site)
    server = Server(binary, site, workdir, args.tls)
    browser = None
    passed = failed = 0
    try:
        try:
            server.start()
            browser = Browser(workdir, server, args.tls)
        except (RuntimeError, OSError, BrowserError, subprocess.SubprocessError) as error:
            return cannot_run(str(error).strip())
        if args.tls:
            print("browser: over HTTPS the tabs share HTTP/2 connections, so check e proves less than over HTTP/1.1")
        suite = Suite(browser, server, site)
        for name, check in checks:
            started = time.monotonic()
            try:
                suite.reset()
                check(suite)
                passed += 1
                print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)
            except Exception as error:  # a check fails; the suite goes on
                failed += 1
                reason = str(error) if isinstance(error, CheckFailed) else traceback.format_exc().strip()
                print(f"FAIL {name}: {reason}", flush=True)
                print("  browser console:\n    " + "\n    ".join(browser.console()[-15:]))
                print("  devserve output:\n    " + server.tail(15).replace("\n", "\n    "))
                if server.process is None or server.process.poll() is not None:
                    try:
                        server.start(port=server.port)
                    except RuntimeError:
                        pass
                continue
            if args.verbose:
                print("    " + "\n    ".join(browser.console()))
    finally:
        if browser is not None:
            browser.quit()
        server.stop()
        if args.keep:
            print(f"browser: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    scheme = "https, HTTP/2" if args.tls else "http, HTTP/1.1"
    print(f"browser ({args.browser}, {scheme}): {passed} passed, {failed} failed in {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
