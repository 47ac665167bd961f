#!/usr/bin/python3
"""devserve TLS benchmarks against nginx and lighttpd, in one run.

One certificate for all three servers, made the way devserve makes it: `devserve cert` in a
scratch working folder with XDG_DATA_HOME pointing at a scratch folder (an ECDSA P-256 leaf for
localhost and 127.0.0.1 in certs/, signed by a local CA). Every server serves the same generated
folder (bench.py's 3 KB page and 300 ES modules) on its own loopback port, with TLS 1.2 and 1.3,
the same TLS 1.2 cipher list and the same key-exchange groups. Measured, interleaving the
servers round by round:

  new handshakes   new connections per second, each a full TLS 1.3 handshake (X25519, ECDSA
                   P-256) + one GET + close: 2 loops of one-shot `h2load --h1 -n 64 -c 64`
                   processes side by side (a fresh client per connection: nothing to resume)
  HTTPS keep-alive `wrk -t2 -c64` on /index.html over TLS (HTTP/1.1)          requests/s
  HTTP/2 modules   `h2load -c6 -m100` cycling over the 300 module URLs (ALPN h2) requests/s

The table shows the median over rounds, devserve's ratio to each peer, and the goals of the TLS
issue. Benchmarks report, they do not fail: the exit status is 0 when goals are missed, 2 when a
tool is missing, 3 when a server could not start or serve TLS (or died); the other servers'
figures are still shown.

With --baseline BINARY, a second devserve build (say, the one before a change) runs as the server
"baseline" right after devserve in every round, and the table adds devserve/baseline: on a shared
machine, the only fair before-and-after is one measured in the same run.

Standard library only; run with /usr/bin/python3. `make bench` runs it after bench.py and
reload_bench.py; a quick smoke run:
    /usr/bin/python3 Tests/Benchmarks/tls_bench.py --binary .build/release/devserve --rounds 1 --duration 2
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# Helpers shared with the static-serving benchmark beside this file (no __pycache__ left in the tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (DEVSERVE_BUILDS, MODULE_COUNT, Server, ServerFailed, devserve_builds, generate_site, log, machine_info,  # noqa: E402
                   markdown_table, note_wrk, print_table, record_cpu, run_wrk, tool_version,
                   write_report, nginx_command, lighttpd_command, print_events)
from bench import render_table as bench_render_table  # noqa: E402

SERVERS = ("devserve", "nginx", "lighttpd")

# The TLS settings every server gets (devserve's are its own; these are meant to match them).
# TLS 1.2 ciphers: Mozilla "intermediate", ECDHE only (AES-GCM, then ChaCha20-Poly1305).
# TLS 1.3 suites: OpenSSL's defaults (all three) for every server; the client picks.
TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
GROUPS_NGINX = "X25519:prime256v1:secp384r1"
GROUPS_OPENSSL = "X25519:P-256:P-384"  # the same groups, as OpenSSL's SSL_CONF "Groups" spells them

LIGHTTPD_OPENSSL_MODULE = "/usr/lib/lighttpd/mod_openssl.so"
HANDSHAKE_BATCH = 64  # connections each h2load process of the handshake test opens at once


# ---------------------------------------------------------------------------------------------
# The certificate


class Certificate:
    """certs/localhost.pem + certs/localhost-key.pem in `run_dir`, and the CA that signed them."""

    def __init__(self, binary, work):
        self.run_dir = os.path.join(work, "run")      # devserve's working folder: holds certs/
        self.data_home = os.path.join(work, "xdg")    # XDG_DATA_HOME: the CA is in devserve/
        os.makedirs(self.run_dir)
        os.makedirs(self.data_home)
        self.cert = os.path.join(self.run_dir, "certs", "localhost.pem")
        self.key = os.path.join(self.run_dir, "certs", "localhost-key.pem")
        self.ca = os.path.join(self.data_home, "devserve", "ca.pem")
        self.env = dict(os.environ, XDG_DATA_HOME=self.data_home)
        self.command = [binary, "cert"]
        done = subprocess.run(self.command, cwd=self.run_dir, env=self.env, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0 or not all(os.path.isfile(p) for p in (self.cert, self.key, self.ca)):
            raise ServerFailed(f"`devserve cert` (in {self.run_dir}, XDG_DATA_HOME={self.data_home}) exited "
                               f"{done.returncode} without making certs/ and the CA:\n"
                               + (done.stdout + done.stderr).strip())
        self.output = done.stdout.strip()
        self.describe()

    def describe(self):
        """Key type and curve, subject, SANs and issuer of the leaf, from `openssl x509`."""
        done = subprocess.run(["openssl", "x509", "-in", self.cert, "-noout", "-text"], capture_output=True,
                              text=True, timeout=10)
        text = done.stdout

        def find(pattern):
            match = re.search(pattern, text)
            return match.group(1).strip() if match else None

        self.info = {
            "leaf": self.cert, "key": self.key, "ca": self.ca,
            "public_key": find(r"Public Key Algorithm:\s*(\S+)"),
            "curve": find(r"(?:ASN1 OID|NIST CURVE):\s*(\S+)"),
            "signature": find(r"Signature Algorithm:\s*(\S+)"),
            "subject": find(r"Subject:\s*(.*)"),
            "issuer": find(r"Issuer:\s*(.*)"),
            "names": find(r"X509v3 Subject Alternative Name:[^\n]*\n\s*(.*)"),
        }


# ---------------------------------------------------------------------------------------------
# Servers


class TLSServer(Server):
    """bench.py's Server (start, stop, processes, CPU), with TLS configurations."""

    def __init__(self, name, site, work, binary, certificate):
        super().__init__(name, site, work, binary)
        self.certificate = certificate
        if name in DEVSERVE_BUILDS:
            # devserve --tls reads ./certs/localhost.pem; the CA's folder is in its environment
            # too, in case it checks the leaf against the CA on start.
            self.cwd = certificate.run_dir
            self.env = certificate.env

    def command(self):
        port, cert, key = self.port, self.certificate.cert, self.certificate.key
        if self.name in DEVSERVE_BUILDS:
            return [self.binary, self.site, "--tls", "--port", str(port), "--no-reload", "--quiet",
                    "--host", "127.0.0.1"]
        if self.name == "nginx":
            tls = f"""        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {TLS12_CIPHERS};
        ssl_prefer_server_ciphers off;
        ssl_ecdh_curve {GROUPS_NGINX};
        # No server-side session store; session tickets stay at their default (on: OpenSSL sends
        # two with every TLS 1.3 handshake, as an OpenSSL server does by default).
        ssl_session_cache off;
"""
            return nginx_command(self.work, self.site, f"127.0.0.1:{port} ssl http2", tls,
                                 "Tests/Benchmarks/tls_bench.py: bench.py's nginx, over TLS")
        if self.name == "lighttpd":
            tls = f"""server.modules += ( "mod_openssl" )
ssl.engine = "enable"
ssl.pemfile = "{cert}"
ssl.privkey = "{key}"
ssl.openssl.ssl-conf-cmd = (
    "MinProtocol" => "TLSv1.2",
    "CipherString" => "{TLS12_CIPHERS}",
    "Groups" => "{GROUPS_OPENSSL}",
    "Options" => "-ServerPreference",
)
"""
            return lighttpd_command(self.work, self.site, port, tls,
                                    "Tests/Benchmarks/tls_bench.py: lighttpd's defaults (HTTP/2 is on by default "
                                    "in 1.4.69),\n# plus where and what to serve, and TLS with the shared certificate")
        raise ValueError(self.name)


# ---------------------------------------------------------------------------------------------
# Checks


def probe_tls(port, ca):
    """One `openssl s_client` connection verified against the CA for the name localhost, with
    ALPN http/1.1 and a GET: what was negotiated and how many session tickets the server sent."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
               "-CAfile", ca, "-verify_return_error", "-verify_hostname", "localhost", "-alpn", "http/1.1",
               "-ign_eof"]
    request = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    try:
        done = subprocess.run(command, input=request, capture_output=True, timeout=15)
    except subprocess.TimeoutExpired:
        return {"error": "openssl s_client did not finish in 15 s"}
    out = (done.stdout + done.stderr).decode("latin-1")

    def find(pattern):
        match = re.search(pattern, out, re.M)
        return match.group(1).strip() if match else None

    info = {
        "protocol": find(r"^New, (TLSv[\d.]+), Cipher is"),
        "cipher": find(r"^New, TLSv[\d.]+, Cipher is (\S+)"),
        "key_exchange": find(r"^Server Temp Key: (.*)$"),
        "signature": find(r"^Peer signature type: (.*)$"),
        "verify": find(r"^Verify return code: (.*)$"),
        "alpn": find(r"^ALPN protocol: (.*)$"),
        "session_tickets": out.count("Post-Handshake New Session Ticket arrived"),
        "http_status": find(r"^HTTP/1\.1 (\d+)"),
    }
    if done.returncode != 0 or info["protocol"] is None:
        info["error"] = f"openssl s_client exited {done.returncode}: " + " | ".join(out.strip().splitlines()[-4:])
    return info


def curl_get(port, path, ca, http2):
    """(status, HTTP version, body) of one request, the certificate verified against the CA."""
    command = ["curl", "-sS", "--max-time", "15", "--cacert", ca, "--resolve", f"localhost:{port}:127.0.0.1",
               "--http2" if http2 else "--http1.1", "-o", "-", "-w", "\n%{http_code} %{http_version}",
               f"https://localhost:{port}{path}"]
    done = subprocess.run(command, capture_output=True, timeout=30)
    if done.returncode != 0:
        raise OSError(f"curl exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    body, _, trailer = done.stdout.rpartition(b"\n")
    status, version = trailer.decode().split()
    return int(status), version, body


def check_tls(server, site, ca):
    """(probe info, problems, serves TLS at all). Problems: a wrong answer, an unverifiable
    certificate, something other than TLS 1.3 / X25519 / ECDSA, or no h2 by ALPN."""
    info = probe_tls(server.port, ca)
    if "error" in info:
        return info, [info["error"]], False
    problems = []
    if info["verify"] != "0 (ok)":
        problems.append(f"certificate not verified against the devserve CA: {info['verify']}")
    if info["protocol"] != "TLSv1.3":
        problems.append(f"negotiated {info['protocol']}, not TLSv1.3")
    if not (info["key_exchange"] or "").startswith("X25519"):
        problems.append(f"key exchange {info['key_exchange']}, not X25519")
    if "ECDSA" not in (info["signature"] or "").upper():
        problems.append(f"signature {info['signature']}, not ECDSA")
    for path, http2 in (("/index.html", False), ("/app/m000.js", True), ("/app/m123.js", True),
                        ("/app/m299.js", True), ("/index.html", True)):
        try:
            status, version, body = curl_get(server.port, path, ca, http2)
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            problems.append(f"GET {path} ({'h2' if http2 else 'http/1.1'}): {error}")
            continue
        with open(os.path.join(site, path.lstrip("/")), "rb") as f:
            expected = f.read()
        if status != 200 or body != expected:
            problems.append(f"GET {path}: status {status}, {len(body)} bytes (expected 200, {len(expected)} bytes)")
        if http2 and version != "2":
            problems.append(f"GET {path}: HTTP/{version} where HTTP/2 was offered by ALPN")
    info["h2"] = not any("where HTTP/2 was offered" in p for p in problems)
    return info, problems, True


# ---------------------------------------------------------------------------------------------
# Measurements


def handshake_command(port):
    # --h1: ALPN http/1.1, one GET each; -n = -c: every client makes exactly one connection.
    return ["h2load", "--h1", "-n", str(HANDSHAKE_BATCH), "-c", str(HANDSHAKE_BATCH),
            f"https://127.0.0.1:{port}/site.css"]


def run_handshakes(port, loops, duration):
    """New connections per second, each a full TLS handshake, one GET of /site.css (96 bytes) and a
    close: `loops` loops run side by side for `duration` s, each starting one h2load process after
    another, every process opening HANDSHAKE_BATCH connections at once with one request each.
    Every connection has a fresh SSL object in a fresh process, so no session can be resumed (a
    single long h2load or wrk run reconnecting would resume with the server's tickets: both keep
    their SSL objects). The rate is all connections / the wall time until the last batch ends."""
    command = handshake_command(port)
    totals = {"batches": 0, "succeeded": 0, "failed": 0, "errored": 0, "timeout": 0}
    problems, negotiated = [], {}
    lock = threading.Lock()

    def loop(deadline):
        while time.monotonic() < deadline:
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                with lock:
                    problems.append("h2load did not finish a batch in 60 s")
                return
            out = done.stdout + done.stderr
            match = re.search(r"^requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
                              r"(\d+) errored, (\d+) timeout", out, re.M)
            with lock:
                totals["batches"] += 1
                if done.returncode != 0 or not match:
                    problems.append(f"h2load exited {done.returncode}: {out.strip()[-200:]}")
                    return
                for key, value in zip(("succeeded", "failed", "errored", "timeout"), map(int, match.groups())):
                    totals[key] += value
                if not negotiated:
                    for key, pattern in (("tls", r"^TLS Protocol: (\S+)"), ("cipher", r"^Cipher: (\S+)"),
                                         ("key_exchange", r"^Server Temp Key: (.*)$")):
                        found = re.search(pattern, out, re.M)
                        negotiated[key] = found.group(1).strip() if found else None

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(started + duration,)) for _ in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    result = dict(totals, loops=loops, batch=HANDSHAKE_BATCH, wall_s=round(wall, 3), **negotiated)
    result["connections"] = totals["succeeded"]
    if problems:
        result["error"] = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    elif totals["succeeded"] == 0:
        result["error"] = "no connection succeeded"
    else:
        result["rate"] = totals["succeeded"] / wall
        if negotiated.get("tls") != "TLSv1.3" or not (negotiated.get("key_exchange") or "").startswith("X25519"):
            result["error"] = f"negotiated {negotiated.get('tls')} with {negotiated.get('key_exchange')}, " \
                              "not TLSv1.3 with X25519"
    return result


def h2load_command(url_file, clients, streams, threads, duration):
    # Timed mode (-D) without --warm-up-time. h2load 1.52 does not reconnect in timed mode after a
    # server's GOAWAY, so a server that caps requests per connection (nginx's default
    # keepalive_requests 1000 does, for HTTP/2 too; bench.py's nginx config sets 100000) stalls:
    # the in-flight streams show up as "errored", which the run reports.
    return ["h2load", "-c", str(clients), "-m", str(streams), "-t", str(threads), "-D", str(duration),
            "-i", url_file]


def run_h2load(url_file, clients, streams, threads, duration):
    """Requests/s and what was negotiated, from one h2load run."""
    command = h2load_command(url_file, clients, streams, threads, duration)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"error": "h2load did not finish in time"}
    out = done.stdout + done.stderr
    result = {}

    def find(pattern):
        match = re.search(pattern, out, re.M)
        return match.group(1).strip() if match else None

    rps = find(r"^finished in [\d.]+\w*, ([\d.]+) req/s")
    result["protocol"] = find(r"^Application protocol: (\S+)")
    result["tls"] = find(r"^TLS Protocol: (\S+)")
    result["cipher"] = find(r"^Cipher: (\S+)")
    result["key_exchange"] = find(r"^Server Temp Key: (.*)$")
    match = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                      r"(\d+) errored, (\d+) timeout", out, re.M)
    if match:
        result.update(zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                          map(int, match.groups())))
    match = re.search(r"^traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?\((\d+)\) data", out, re.M)
    if match:
        result["bytes_total"], result["bytes_headers"], result["bytes_data"] = map(int, match.groups())
    match = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out, re.M)
    if match:
        result["status"] = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, match.groups())))
    if done.returncode != 0 or rps is None:
        result["error"] = f"h2load exited {done.returncode}: {out.strip()[-300:]}"
        return result
    result["rps"] = float(rps)
    result["requests"] = result.get("succeeded")
    if result.get("done") and result.get("bytes_data") is not None:
        # Body bytes per response, to compare with the modules' mean size (h2load counts DATA
        # frame payload, so this is the body alone).
        result["body_bytes_per_response"] = result["bytes_data"] / result["done"]
    if result["protocol"] != "h2":
        result["error"] = f"h2load negotiated {result['protocol']!r}, not h2"
    return result


# ---------------------------------------------------------------------------------------------
# Report


METRICS = [
    # key, label, unit, higher is better
    ("handshakes", "new TLS connections (full TLS 1.3 handshake + 1 GET)", "handshakes/s", True),
    ("https_rps", "HTTPS keep-alive, 3 KB page (wrk -t2 -c64)", "req/s", True),
    ("h2_rps", "HTTP/2, 300-module page (h2load -c6 -m100)", "req/s", True),
    ("handshake_cpu_us", "(info) server CPU per new connection", "us", False),
    ("https_cpu_us", "(info) server CPU per HTTPS request", "us", False),
    ("h2_cpu_us", "(info) server CPU per HTTP/2 request", "us", False),
]

GOALS = {"handshakes": 0.8, "https_rps": 1.0, "h2_rps": 1.0}  # devserve / nginx, from the issue


def goal_text(key, medians):
    if key not in GOALS:
        return ""
    ds = medians.get("devserve", {}).get(key)
    ng = medians.get("nginx", {}).get(key)
    head = f">= {GOALS[key]:.1f}x nginx: "
    if ds is None or not ng:
        return head + "n/a"
    return head + ("met" if ds / ng >= GOALS[key] else "MISSED")


def fmt(value, unit):
    if value is None:
        return "n/a"
    if unit.endswith("/s"):
        return f"{value:,.0f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def render_table(medians, servers):
    return bench_render_table(medians, servers, {}, METRICS, goal_text, fmt)


def command_lines(args):
    """The measuring commands, as run (PORT and URLS stand for each server's)."""
    return {
        "handshakes": f"for {args.duration} s, {args.handshake_loops} loops side by side, each running again and "
                      "again: " + " ".join(handshake_command("PORT")),
        "https_keepalive": " ".join(["wrk", "-t2", "-c64", f"-d{args.duration}s", "--timeout", "5s", "--latency",
                                     "https://127.0.0.1:PORT/index.html"]),
        "http2_modules": " ".join(h2load_command("URLS", args.h2_clients, args.h2_streams, args.h2_threads,
                                                 args.duration))
                         + f"   (URLS: the {MODULE_COUNT} https://127.0.0.1:PORT/app/mNNN.js URLs, one a line)",
        "certificate": "devserve cert   (cwd: a scratch folder, XDG_DATA_HOME: a scratch folder)",
        "check": "openssl s_client -connect 127.0.0.1:PORT -servername localhost -CAfile CA -verify_return_error "
                 "-verify_hostname localhost -alpn http/1.1 -ign_eof; curl --cacert CA --resolve "
                 "localhost:PORT:127.0.0.1 --http1.1|--http2 https://localhost:PORT/...",
    }


# ---------------------------------------------------------------------------------------------
# Main


def find_missing(servers):
    missing = [tool for tool in ("wrk", "h2load", "openssl", "curl") if shutil.which(tool) is None]
    for name in ("nginx", "lighttpd"):
        if name in servers and shutil.which(name) is None and not os.path.exists(f"/usr/sbin/{name}"):
            missing.append(name)
    if "lighttpd" in servers and not os.path.exists(LIGHTTPD_OPENSSL_MODULE):
        missing.append("lighttpd-mod-openssl")
    if "nginx" in servers and "nginx" not in missing:
        built = tool_version_all([shutil.which("nginx") or "/usr/sbin/nginx", "-V"])
        for module, package in (("--with-http_ssl_module", "nginx with the ssl module"),
                                ("--with-http_v2_module", "nginx with the http2 module")):
            if module not in built:
                missing.append(package)
    return missing


def tool_version_all(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=".build/release/devserve",
                        help="the devserve binary (a release build); it also makes the certificate")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median of each is reported (default 3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement (default 5)")
    parser.add_argument("--handshake-loops", type=int, default=2,
                        help=f"loops of one-shot h2load processes ({HANDSHAKE_BATCH} connections each) side by "
                             "side in the handshake test (default 2)")
    parser.add_argument("--h2-clients", type=int, default=6, help="h2load connections (default 6)")
    parser.add_argument("--h2-streams", type=int, default=100, help="h2load streams per connection (default 100)")
    parser.add_argument("--h2-threads", type=int, default=1, help="h2load threads (default 1)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of " + ",".join(SERVERS))
    parser.add_argument("--baseline", help="another devserve binary (say, the build before a change), measured as "
                                           "the server 'baseline' in the same rounds; the table adds devserve/baseline")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders, certificate and logs")
    args = parser.parse_args()

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers or min(args.rounds, args.duration, args.handshake_loops, args.h2_clients,
                                     args.h2_streams, args.h2_threads) < 1 or args.h2_threads > args.h2_clients:
        parser.error(f"bad arguments (unknown servers: {unknown})" if unknown else
                     "counts and durations must be at least 1, --h2-threads at most --h2-clients, and "
                     "--servers must name at least one server")

    missing = find_missing(servers)
    if missing:
        log(f"tls_bench: missing {', '.join(missing)}: run 'make bench-deps' (it installs them) or "
            f"'apt-get install wrk nghttp2-client openssl curl nginx-light lighttpd lighttpd-mod-openssl'.")
        return 2
    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        log(f"tls_bench: no devserve binary at {args.binary} (it also makes the certificate): build it with "
            f"'swift build -c release' (or pass --binary).")
        return 2
    binary = os.path.abspath(args.binary)
    builds = devserve_builds(binary, args.baseline, servers, "tls_bench")
    if builds is None:
        return 2

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    work = tempfile.mkdtemp(prefix="devserve-tlsbench-")
    site = os.path.join(work, "site")
    os.mkdir(site)
    running = []
    failed = False
    started_at = datetime.datetime.now(datetime.timezone.utc)
    samples = {name: {key: [] for key, *_ in METRICS} for name in servers}
    events = {name: [] for name in servers}
    runs = {name: {"handshakes": [], "https": [], "h2": []} for name in servers}
    negotiated = {name: [] for name in servers}
    served = {name: 0 for name in servers}  # rounds in which the server started and spoke TLS
    certificate = None
    try:
        t0 = time.monotonic()
        modules = generate_site(site, big_file=False)
        log(f"tls_bench: generated {site} ({MODULE_COUNT} modules) in {time.monotonic() - t0:.1f} s")
        mean_module_bytes = statistics.mean(os.path.getsize(os.path.join(site, p.lstrip("/"))) for p in modules)
        try:
            certificate = Certificate(binary, work)
        except (ServerFailed, OSError, subprocess.TimeoutExpired) as error:
            log(f"tls_bench: could not make the certificate: {error}")
            return 3
        log(f"tls_bench: certificate {certificate.cert} ({certificate.info['public_key']} "
            f"{certificate.info['curve']}, {certificate.info['names']}), CA {certificate.ca}")

        for round_number in range(1, args.rounds + 1):
            log(f"tls_bench: round {round_number}/{args.rounds}")
            live = []
            for name in servers:
                server = TLSServer(name, site, work, builds.get(name, binary), certificate)
                running.append(server)
                try:
                    server.start()
                except ServerFailed as error:
                    what = "TLS serving not available" if name == "devserve" else "did not start"
                    log(f"tls_bench: {name}: {what}: {error}")
                    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                    reason = lines[0] + (f" ({lines[1]})" if len(lines) > 1 else "")
                    events[name].append(f"round {round_number}: {what}: {reason}")
                    failed = True
                    continue
                info, problems, speaks_tls = check_tls(server, site, certificate.ca)
                negotiated[name].append(info)
                if not speaks_tls:
                    log(f"tls_bench: {name} accepts connections but no TLS handshake: {problems[0]}")
                    events[name].append(f"round {round_number}: no TLS handshake: {problems[0]}")
                    failed = True
                    server.stop()
                    continue
                if problems:
                    log(f"tls_bench: {name} answers wrongly: " + "; ".join(problems))
                    events[name].extend(f"round {round_number}: {p}" for p in problems)
                served[name] += 1
                live.append(server)
                log(f"  {name:9} {info['protocol']} {info['cipher']}, {info['key_exchange']}, "
                    f"{info['signature']}, {info['session_tickets']} session ticket(s), h2 {'yes' if info.get('h2') else 'NO'}")

            def usable(server, what):
                nonlocal failed
                if server.alive():
                    return True
                failed = True
                message = f"round {round_number}: died before {what} (exit status {server.process.returncode})"
                if message not in events[server.name]:
                    log(f"tls_bench: {server.name} {message}:\n{server.log_tail()}")
                    events[server.name].append(message)
                return False

            for server in live:
                if not usable(server, "the handshake test"):
                    continue
                cpu = server.cpu_seconds()
                run = run_handshakes(server.port, args.handshake_loops, args.duration)
                if run.get("connections"):
                    samples[server.name]["handshake_cpu_us"].append(
                        (server.cpu_seconds() - cpu) * 1e6 / run["connections"])
                runs[server.name]["handshakes"].append(run)
                if "error" in run:
                    events[server.name].append(f"round {round_number}: handshakes: {run['error']}")
                else:
                    samples[server.name]["handshakes"].append(run["rate"])
                bad = {k: run[k] for k in ("failed", "errored", "timeout") if run.get(k)}
                if bad:
                    events[server.name].append(f"round {round_number}: handshakes: " +
                                               ", ".join(f"{k} {v}" for k, v in bad.items()) +
                                               f" of {run['succeeded'] + run['failed']} connections")
                log(f"  {server.name:9} handshakes  {fmt(run.get('rate'), '/s')} /s ({run.get('connections')} in "
                    f"{run.get('batches')} batches, {run.get('tls')} {run.get('cipher')}, {run.get('key_exchange')})")
                time.sleep(0.5)

            for server in live:
                if not usable(server, "the keep-alive test"):
                    continue
                cpu = server.cpu_seconds()
                run = run_wrk(f"https://127.0.0.1:{server.port}/index.html", 2, 64, args.duration)
                record_cpu(samples[server.name]["https_cpu_us"], server.cpu_seconds() - cpu, run)
                runs[server.name]["https"].append({k: v for k, v in run.items() if k != "output"})
                note_wrk(events, server.name, round_number, "HTTPS keep-alive", run)
                if "rps" in run:
                    samples[server.name]["https_rps"].append(run["rps"])
                log(f"  {server.name:9} HTTPS keep-alive {fmt(run.get('rps'), 'req/s')} req/s")

            for server in live:
                if not usable(server, "the HTTP/2 test"):
                    continue
                urls = os.path.join(work, f"urls-{server.name}.txt")
                with open(urls, "w") as f:
                    f.write("".join(f"https://127.0.0.1:{server.port}{path}\n" for path in modules))
                cpu = server.cpu_seconds()
                run = run_h2load(urls, args.h2_clients, args.h2_streams, args.h2_threads, args.duration)
                record_cpu(samples[server.name]["h2_cpu_us"], server.cpu_seconds() - cpu, run)
                runs[server.name]["h2"].append(run)
                if "error" in run:
                    events[server.name].append(f"round {round_number}: HTTP/2: {run['error']}")
                else:
                    bad = {k: v for k, v in (run.get("status") or {}).items() if k != "2xx" and v}
                    bad.update({k: run[k] for k in ("failed", "errored", "timeout") if run.get(k)})
                    if bad:
                        events[server.name].append(f"round {round_number}: HTTP/2: " +
                                                   ", ".join(f"{k} {v}" for k, v in bad.items()) +
                                                   f" of {run.get('total')} requests")
                    per_response = run.get("body_bytes_per_response")
                    if per_response is None or per_response < 0.95 * mean_module_bytes:
                        events[server.name].append(
                            f"round {round_number}: HTTP/2: {per_response and round(per_response)} body bytes per "
                            f"response, where the modules average {mean_module_bytes:.0f}")
                    samples[server.name]["h2_rps"].append(run["rps"])
                log(f"  {server.name:9} HTTP/2 modules {fmt(run.get('rps'), 'req/s')} req/s "
                    f"({run.get('protocol')}, {run.get('cipher')}, {run.get('done')} responses, "
                    f"{fmt(run.get('body_bytes_per_response'), 'B')} body bytes each)")

            for server in live:
                usable(server, "the end of the round")
            for server in list(running):
                server.stop()
            running = []
    except KeyboardInterrupt:
        log("tls_bench: interrupted")
        return 130
    finally:
        for server in running:
            server.stop()
        if args.keep:
            log(f"tls_bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    medians = {name: {key: (statistics.median(v) if v else None) for key, v in samples[name].items()}
               for name in servers}
    rows = render_table(medians, servers)
    commands = command_lines(args)
    print()
    print(f"devserve TLS benchmarks — {started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{args.rounds} round(s) x {args.duration} s, medians")
    print()
    print_table(rows)
    print()
    print("Ratios are devserve / peer: above 1 is better for handshakes/s and req/s.")
    print("CPU per handshake / request: the server's user+system time during the run / what it served.")
    print("One certificate for all: `devserve cert`'s ECDSA P-256 leaf for localhost + 127.0.0.1. The checks "
          "verify it against the devserve CA; the load tools (h2load, wrk) do not verify certificates.")
    print()
    print("Commands (PORT: each server's loopback port):")
    for key in ("certificate", "check", "handshakes", "https_keepalive", "http2_modules"):
        print(f"  {key:16} {commands[key]}")
    never = [name for name in servers if served[name] == 0]
    if never:
        print()
        for name in never:
            if name == "devserve":
                print("devserve: not available — it did not serve TLS in any round (`devserve SITE --tls` "
                      "failed to start or to handshake); its figures are n/a.")
            else:
                print(f"{name}: did not serve TLS in any round; its figures are n/a.")
    print_events(servers, events, "start-up, wrong answers, client errors, non-2xx responses, crashes")

    if args.json:
        report = {
            "date": started_at.isoformat(timespec="seconds"),
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "machine": machine_info(),
            "versions": {
                "nginx": tool_version(["nginx", "-v"]),
                "lighttpd": tool_version(["lighttpd", "-v"]),
                "wrk": tool_version(["wrk", "--version"]),
                "h2load": tool_version(["h2load", "--version"]),
                "openssl": tool_version(["openssl", "version"]),
                "curl": tool_version(["curl", "--version"]),
                "python": platform.python_version(),
            },
            "settings": {"rounds": args.rounds, "duration_s": args.duration,
                         "handshake_loops": args.handshake_loops,
                         "handshake_batch": HANDSHAKE_BATCH, "h2_clients": args.h2_clients,
                         "h2_streams": args.h2_streams, "h2_threads": args.h2_threads, "binary": binary,
                         "tls12_ciphers": TLS12_CIPHERS, "groups": GROUPS_OPENSSL},
            "commands": commands,
            "certificate": certificate.info if certificate else None,
            "negotiated": negotiated,
            "units": {key: unit for key, _, unit, _ in METRICS},
            "medians": medians,
            "samples": samples,
            "ratios": {peer: {key: (medians["devserve"][key] / medians[peer][key]
                                    if "devserve" in medians and medians["devserve"].get(key) is not None
                                    and medians[peer].get(key) else None)
                              for key, *_ in METRICS}
                       for peer in servers if peer != "devserve"},
            "goals": {key: goal_text(key, medians) for key in GOALS},
            "served_rounds": served,
            "runs": runs,
            "events": events,
            "table": rows,
            "markdown_table": markdown_table(rows),
        }
        write_report(args.json, report, "tls_bench")
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
