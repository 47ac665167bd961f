#!/usr/bin/python3
"""devserve live-reload benchmarks (issue 3, point 8), in one run.

  save to notice   a client keeps one long-poll on /__devserve/poll always outstanding; for each
                   of N saves (a settle pause between them, so saves do not coalesce) the time
                   from the save returning to the poll's answer arriving: once for
                   open/write/close, once for os.rename() of a temp file (written in a folder
                   outside the watched tree) over the target. Median and p95 (nearest rank).
                   Peer: python `livereload` (pip-installed into a throwaway venv; websocket),
                   measured the same way in the same run, interleaved save by save.
  burst            500 new files written as fast as possible: poll answers counted over the
                   following 2 s (after draining). Goal: exactly 1.
  waiting polls    a fresh server's RSS, then with 1,000 connections each holding a waiting
                   poll; then one save: how many of the 1,000 were answered, and how fast.
  idle CPU         devserve on a tree of 20,000 files in 2,000 folders: once its inotify watches
                   are all set (and at least 3 s after launch), its CPU time over 10 s of
                   idleness: utime+stime (10 ms ticks), and per thread from schedstat (ns).
  first response   on that tree: from spawn to the first 200 for GET / (tight connect+request
                   loop), over several launches.

Benchmarks report, they do not fail: the exit status is 0 when goals are missed or the peer
could not be installed, 3 when devserve could not start (or died).

Standard library only; run with /usr/bin/python3. `make bench` runs it after bench.py; a quick
smoke run without the peer:
    /usr/bin/python3 Tests/Benchmarks/reload_bench.py --binary .build/release/devserve --peers none --saves 10
"""

import argparse
import base64
import datetime
import json
import math
import os
import random
import resource
import select
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# Helpers shared with the static-serving benchmark beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import can_connect, free_port, log, machine_info, markdown_table, print_table, write_report  # noqa: E402

MB = 1_000_000  # MB = 10^6 bytes, as in bench.py
POLL_PATH = "/__devserve/poll"


def now():
    return time.perf_counter()  # CLOCK_MONOTONIC, ns resolution; the same clock for every measurement


class ServerFailed(Exception):
    pass


# What a client can run into when a measurement goes wrong (refused, reset, timed out, a bad
# answer): the item is reported as n/a with the error, the run goes on.
CLIENT_ERRORS = (OSError, ConnectionError, ValueError, KeyError, IndexError, TypeError)


# ---------------------------------------------------------------------------------------------
# Folders


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def generate_small_site(root):
    """The site the latency, burst and waiting-poll tests watch: a page, a stylesheet, a script,
    the two save targets and an empty folder for the burst."""
    os.makedirs(os.path.join(root, "css"))
    os.makedirs(os.path.join(root, "burst"))
    write_file(os.path.join(root, "index.html"),
               "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>reload bench</title>\n"
               "<link rel=\"stylesheet\" href=\"/css/write.css\"><link rel=\"stylesheet\" href=\"/css/rename.css\">\n"
               "</head><body><h1>reload bench</h1><script src=\"/app.js\"></script></body></html>\n")
    write_file(os.path.join(root, "app.js"), "console.log('reload bench');\n")
    write_file(os.path.join(root, "css", "write.css"), "body { color: #000; }\n")
    write_file(os.path.join(root, "css", "rename.css"), "h1 { color: #000; }\n")


def generate_big_tree(root, files, folders):
    """`files` files in `folders` folders: 50 top-level folders, the rest spread under them, the
    files spread evenly (10 each by default), plus /index.html. Returns (files, folders) made and
    the URL path of the last file, which is in a second-level folder."""
    top = min(50, folders)
    names = [f"d{i:02d}" for i in range(top)]
    for i in range(folders - top):
        names.append(f"d{i % top:02d}/s{i // top:03d}")
    for name in names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    write_file(os.path.join(root, "index.html"),
               "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>big tree</title></head>"
               "<body><h1>20,000 files</h1></body></html>\n")
    made, last = 1, "/index.html"
    extensions = (".html", ".css", ".js", ".json", ".txt")
    for n in range(files - 1):
        folder = names[n % len(names)]
        ext = extensions[n % len(extensions)]
        write_file(os.path.join(root, folder, f"f{n:05d}{ext}"), f"/* file {n} of the big tree */\n" + "x" * 200 + "\n")
        made, last = made + 1, f"/{folder}/f{n:05d}{ext}"
    return made, len(names), last


# ---------------------------------------------------------------------------------------------
# Processes


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Process:
    """A server we started: in its own session, so its whole group can be stopped by its id."""

    def __init__(self, name, command, log_path, cwd=None, env=None):
        self.name = name
        self.command = command
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.process = None
        self.spawned_at = None

    def spawn(self):
        if not (os.path.isfile(self.command[0]) and os.access(self.command[0], os.X_OK)):
            raise ServerFailed(f"{self.name}: {self.command[0]} is missing or not executable")
        logfile = open(self.log_path, "ab")
        try:
            self.spawned_at = now()
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=logfile,
                                            stderr=subprocess.STDOUT, start_new_session=True, cwd=self.cwd,
                                            env=self.env)
        except OSError as error:
            raise ServerFailed(f"{self.name}: could not run {self.command[0]}: {error}")
        finally:
            logfile.close()

    def wait_listening(self, port, timeout=15.0):
        deadline = now() + timeout
        while now() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited with status {self.process.returncode} before listening:\n"
                                   + self.log_tail())
            if can_connect(port):
                return
            time.sleep(0.01)
        raise ServerFailed(f"{self.name} did not accept connections on port {port} within {timeout:.0f} s:\n"
                           + self.log_tail())

    def alive(self):
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self):
        return self.process.pid

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:]) or "(no output)"
        except OSError:
            return "(no output)"

    def rss(self):
        """VmRSS in bytes, or None when the process is gone."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return None

    def cpu_seconds(self):
        """utime + stime of the process (all its threads) so far."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def task_stats(self):
        """{thread id: (on-CPU nanoseconds from schedstat, context switches)}: finer than the
        10 ms ticks of utime/stime, and how often each thread woke up."""
        stats = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return stats
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as f:
                    cpu_ns = int(f.read().split()[0])
                switches = 0
                with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                            switches += int(line.split()[1])
                stats[tid] = (cpu_ns, switches)
            except (OSError, ValueError, IndexError):
                pass
        return stats

    def threads(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/task"))
        except OSError:
            return None

    def inotify_watches(self):
        """How many inotify watches the process holds (one `inotify wd:` line per watch in the
        fdinfo of its inotify descriptors), or None when it has no inotify descriptor."""
        total, found = 0, False
        try:
            fds = os.listdir(f"/proc/{self.pid}/fd")
        except OSError:
            return None
        for fd in fds:
            try:
                if os.readlink(f"/proc/{self.pid}/fd/{fd}") != "anon_inode:inotify":
                    continue
                found = True
                with open(f"/proc/{self.pid}/fdinfo/{fd}") as f:
                    total += sum(1 for line in f if line.startswith("inotify wd:"))
            except OSError:
                pass
        return total if found else None

    def stop(self, timeout=5.0):
        if self.process is None:
            return
        process, self.process = self.process, None
        pgid = process.pid  # start_new_session: the group id is the pid we started
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=timeout)
            except (subprocess.TimeoutExpired, OSError):
                pass
        try:
            os.killpg(pgid, signal.SIGKILL)  # stragglers of this group only
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"warning: {self.name} (pid {pgid}) did not exit after SIGKILL")


def devserve(binary, root, work, label):
    port = free_port()
    command = [binary, root, "--port", str(port), "--quiet", "--host", "127.0.0.1"]
    return Process(f"devserve ({label})", command, os.path.join(work, f"devserve-{label}.log")), port


# ---------------------------------------------------------------------------------------------
# Clients


def wait_readable(sock, timeout):
    """Whether `sock` becomes readable within `timeout` seconds (poll(): no FD_SETSIZE limit)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(max(0, int(math.ceil(timeout * 1000)))))


class HTTPClient:
    """One keep-alive HTTP/1.1 connection, raw, so the time an answer arrives is the time its
    last byte is read (no library buffering in between)."""

    def __init__(self, port, timeout=5.0):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, target):
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                          f"Accept: application/json\r\n\r\n".encode())

    def readable(self, timeout):
        if self.buffer:
            return True
        return wait_readable(self.sock, timeout)

    def response(self, deadline):
        """(status, body bytes, arrival time), or None when nothing complete came by `deadline`."""
        while True:
            parsed = parse_response(self.buffer)
            if parsed:
                status, body, used = parsed
                self.buffer = self.buffer[used:]
                return status, body, now()
            remaining = deadline - now()
            if remaining <= 0 or not self.readable(remaining):
                return None
            piece = self.sock.recv(65536)
            if not piece:
                raise ConnectionError("the server closed the connection")
            self.buffer += piece


def parse_response(data):
    """(status, body, bytes used) for one complete response at the start of `data`, else None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[:end].decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if len(data) < end + 4 + length:
        return None
    return status, data[end + 4:end + 4 + length], end + 4 + length


class PollClient:
    """A devserve tab, reduced to its long-poll: one poll always outstanding, re-issued at once
    with the returned version after each answer (and after a 204)."""

    def __init__(self, port):
        self.http = HTTPClient(port)
        self.http.send(POLL_PATH)
        answer = self.http.response(now() + 5.0)
        if not answer or answer[0] != 200:
            raise ConnectionError(f"GET {POLL_PATH}: {answer[0] if answer else 'no answer'}")
        state = json.loads(answer[1])
        self.boot, self.version = state["boot"], state["version"]
        self.arm()

    def arm(self):
        self.http.send(f"{POLL_PATH}?boot={self.boot}&since={self.version}")

    def next_notice(self, deadline):
        """(arrival time, answer dict) of the next 200, or None by `deadline`."""
        while True:
            answer = self.http.response(deadline)
            if answer is None:
                return None
            status, body, arrived = answer
            if status == 204:
                self.arm()
                continue
            if status != 200:
                raise ConnectionError(f"poll answered {status}: {body[:120]!r}")
            notice = json.loads(body)
            self.boot, self.version = notice["boot"], notice["version"]
            self.arm()
            return arrived, notice

    def drain(self, seconds):
        """Notices that arrive within `seconds` (extra ones: duplicates, stragglers)."""
        notices = []
        deadline = now() + seconds
        while True:
            got = self.next_notice(deadline)
            if got is None:
                return notices
            notices.append(got)

    def close(self):
        self.http.close()


def paths_of(notice):
    return [c.get("path") for c in notice.get("changes", [])]


class WebSocketClient:
    """A minimal RFC 6455 client (text frames, masking, ping/pong, close): what livereload.js
    does, reduced to the `hello`/`info` handshake and waiting for `reload` messages."""

    def __init__(self, port, path, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          f"Origin: http://127.0.0.1:{port}\r\n\r\n".encode())
        self.buffer = b""
        deadline = now() + timeout
        while b"\r\n\r\n" not in self.buffer:
            self._fill(deadline)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"websocket upgrade refused: {head[:80]!r}")

    def _fill(self, deadline):
        remaining = deadline - now()
        if remaining <= 0:
            raise TimeoutError
        if not wait_readable(self.sock, remaining):
            raise TimeoutError
        piece = self.sock.recv(65536)
        if not piece:
            raise ConnectionError("the server closed the websocket")
        self.buffer += piece

    def _frame(self):
        """(opcode, payload, bytes used) of a complete frame at the start of the buffer, else None."""
        data = self.buffer
        if len(data) < 2:
            return None
        opcode, length, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            length, at = struct.unpack(">H", data[2:4])[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, at = struct.unpack(">Q", data[2:10])[0], 10
        if data[1] & 0x80:
            at += 4  # servers do not mask; skip a mask key anyway
        if len(data) < at + length:
            return None
        return opcode, data[at:at + length], at + length

    def send(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_json(self, value):
        self.send(0x1, json.dumps(value).encode())

    def message(self, deadline):
        """(arrival time, decoded JSON) of the next text message, or None by `deadline`."""
        while True:
            frame = self._frame()
            if frame:
                opcode, payload, used = frame
                self.buffer = self.buffer[used:]
                if opcode == 0x1:
                    return now(), json.loads(payload)
                if opcode == 0x9:
                    self.send(0xA, payload)
                elif opcode == 0x8:
                    raise ConnectionError("the server closed the websocket")
                continue
            try:
                self._fill(deadline)
            except TimeoutError:
                return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# The peer: python livereload


class LiveReloadPeer:
    """`livereload SITE -p PORT` from a throwaway venv (pip install livereload), with a websocket
    client that says hello and info as livereload.js does, and waits for `reload` messages.

    Two rules of livereload shape how it is measured: it polls the tree every 800 ms, and it
    drops any change that comes less than 3 s after its last reload message (its guard against
    reload storms), so its saves are spaced more than 3 s apart."""

    GUARD_S = 3.0

    def __init__(self, work, site):
        self.work = work
        self.site = site
        self.process = None
        self.client = None
        self.version = None
        self.last_reload = None
        self.executable = None

    def install(self):
        """Installs livereload; returns None, or why it could not be installed."""
        venv = os.path.join(self.work, "livereload-venv")
        target = os.path.join(self.work, "livereload-pkgs")
        attempts = [
            [sys.executable, "-m", "venv", venv],
            [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "livereload"],
        ]
        failure = None
        for command in attempts:
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=180)
            except (OSError, subprocess.TimeoutExpired) as error:
                failure = f"{' '.join(command[:4])}: {error}"
                break
            if done.returncode != 0:
                failure = f"{' '.join(command[:4])}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
                break
        if failure is None:
            self.command = [os.path.join(venv, "bin", "python"), "-c", "from livereload.cli import main; main()"]
            self.env = None
        else:
            # No venv module (python3-venv): pip --target into a folder put on PYTHONPATH.
            try:
                done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                       "--target", target, "livereload"], capture_output=True, text=True, timeout=180)
            except (OSError, subprocess.TimeoutExpired) as error:
                return f"{failure}; pip --target: {error}"
            if done.returncode != 0:
                return f"{failure}; pip --target: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
            self.command = [sys.executable, "-c", "from livereload.cli import main; main()"]
            self.env = dict(os.environ, PYTHONPATH=target)
        probe = self.command[:1] + ["-c", "import importlib.metadata as m, tornado; "
                                          "print(m.version('livereload'), tornado.version)"]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=60, env=self.env)
            version, tornado_version = done.stdout.split()
        except (OSError, subprocess.TimeoutExpired, ValueError):
            version, tornado_version = "?", "?"
        self.version = f"livereload {version} (tornado {tornado_version})"
        return None

    def start(self):
        self.port = free_port()
        command = self.command + [self.site, "--port", str(self.port), "--host", "127.0.0.1"]
        self.process = Process("livereload", command, os.path.join(self.work, "livereload.log"), cwd=self.work,
                               env=self.env)
        self.process.spawn()
        self.process.wait_listening(self.port)
        started = now()
        self.client = WebSocketClient(self.port, "/livereload")
        self.client.send_json({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]})
        hello = self.client.message(now() + 5.0)
        if not hello or hello[1].get("command") != "hello":
            raise ServerFailed(f"livereload: no hello on the websocket: {hello}")
        self.client.send_json({"command": "info", "url": f"http://127.0.0.1:{self.port}/index.html", "plugins": {}})
        # Its start-up reload (sent 2 s after its first scan when a client is there) and its 3 s
        # guard from start: wait both out, and take whatever arrives as not part of a save.
        extra = self.drain(self.GUARD_S + 1.0 - (now() - started))
        self.last_reload = extra[-1][0] if extra else self.process.spawned_at

    def drain(self, seconds):
        messages = []
        deadline = now() + max(0.0, seconds)
        while True:
            got = self.client.message(deadline)
            if got is None:
                return messages
            if got[1].get("command") == "reload":
                messages.append(got)
                self.last_reload = got[0]

    def ready_for_save(self):
        """Waits until livereload would not drop a save (3 s guard, plus a margin and a random
        offset so saves do not lock to its 800 ms polling phase); returns extra messages."""
        wait = self.last_reload + self.GUARD_S + 0.25 + random.uniform(0.0, 0.8) - now()
        return self.drain(wait)

    def reload_after(self, deadline):
        got = None
        while got is None or got[1].get("command") != "reload":
            got = self.client.message(deadline)
            if got is None:
                return None
        self.last_reload = got[0]
        return got

    def stop(self):
        if self.client:
            self.client.close()
            self.client = None
        if self.process:
            self.process.stop()


# ---------------------------------------------------------------------------------------------
# Measurements


def save(path, text, how, scratch):
    """Saves `text` to `path` and returns the time the save returned: `write` is open/write/close
    in place; `rename` writes a temp file in `scratch` (a sibling folder outside the watched tree,
    same file system) and renames it over `path`; the clock starts when rename() returns."""
    if how == "write":
        with open(path, "w") as f:
            f.write(text)
        return now()
    temp = os.path.join(scratch, os.path.basename(path) + ".new")
    with open(temp, "w") as f:
        f.write(text)
    os.rename(temp, path)
    return now()


def percentile(values, fraction):
    """Nearest-rank percentile: with 30 values, p95 is the 29th smallest."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_test(port, site, scratch, saves, settle, peer, round_number, events):
    """Item 1 (devserve and, interleaved, the peer) and item 2 (the burst), on one server."""
    results = {"devserve": {"write": [], "rename": []}, "livereload": {"write": [], "rename": []},
               "kinds": {}, "missed": {"devserve": 0, "livereload": 0}, "extra": {"devserve": 0, "livereload": 0}}
    targets = {"write": "/css/write.css", "rename": "/css/rename.css"}
    client = PollClient(port)
    try:
        extra = client.drain(0.3)
        if extra:
            events.append(f"round {round_number}: {len(extra)} notice(s) before the first save: "
                          + "; ".join(str(paths_of(n)) for _, n in extra)[:200])
        for i in range(saves):
            for how in ("write", "rename"):
                target = targets[how]
                # devserve: the previous poll answered, the next one waiting, nothing pending.
                stray = client.drain(settle + random.uniform(0.0, settle / 2))
                results["extra"]["devserve"] += len(stray)
                for _, notice in stray:
                    events.append(f"round {round_number}: devserve: extra notice {paths_of(notice)} "
                                  f"full={notice.get('full')}")
                text = f"/* save {round_number}.{i} by {how} */\nbody {{ margin: {i}px; }}\n"
                saved = save(os.path.join(site, target.lstrip("/")), text, how, scratch)
                deadline = saved + 2.0
                while True:
                    got = client.next_notice(deadline)
                    if got is None:
                        results["missed"]["devserve"] += 1
                        events.append(f"round {round_number}: devserve: save {i} ({how}) got no notice within 2 s")
                        break
                    arrived, notice = got
                    if target in paths_of(notice):
                        results["devserve"][how].append((arrived - saved) * 1000)
                        for change in notice["changes"]:
                            if change.get("path") == target:
                                key = f"{how}: {change.get('kind')}"
                                results["kinds"][key] = results["kinds"].get(key, 0) + 1
                        if len(notice["changes"]) != 1 or notice.get("full"):
                            events.append(f"round {round_number}: devserve: save {i} ({how}) notice also lists "
                                          f"{paths_of(notice)} full={notice.get('full')}")
                        break
                    results["extra"]["devserve"] += 1
                    events.append(f"round {round_number}: devserve: unrelated notice {paths_of(notice)}")

                if peer is None:
                    continue
                stray = peer.ready_for_save()
                results["extra"]["livereload"] += len(stray)
                lr_path = os.path.join(peer.site, target.lstrip("/"))
                saved = save(lr_path, text, how, scratch)
                got = peer.reload_after(saved + 5.0)
                if got is None:
                    results["missed"]["livereload"] += 1
                    events.append(f"round {round_number}: livereload: save {i} ({how}) got no reload within 5 s")
                else:
                    results["livereload"][how].append((got[0] - saved) * 1000)
                    if os.path.basename(str(got[1].get("path"))) != os.path.basename(lr_path):
                        events.append(f"round {round_number}: livereload: reload for {got[1].get('path')}")
            if (i + 1) % 10 == 0:
                log(f"  saves {i + 1}/{saves}")

        # Item 2: a 500-file burst. Drain, then write, then count the answers over 2 s.
        stray = client.drain(0.5)
        results["extra"]["devserve"] += len(stray)
        burst_dir = os.path.join(site, "burst")
        written_at = now()
        for n in range(BURST_FILES):
            with open(os.path.join(burst_dir, f"r{round_number}-b{n:04d}.txt"), "w") as f:
                f.write(f"burst file {n} of round {round_number}\n")
        burst_done = now()
        notices = client.drain(2.0)
        changes = sum(len(n.get("changes", [])) for _, n in notices)
        results["burst"] = {
            "notices": len(notices),
            "changes_listed": changes,
            "full": any(n.get("full") for _, n in notices),
            "write_ms": (burst_done - written_at) * 1000,
            "first_notice_ms": (notices[0][0] - burst_done) * 1000 if notices else None,
        }
    finally:
        client.close()
    return results


BURST_FILES = 500


def waiting_polls_test(process, port, count, site, round_number, events):
    """Item 3: RSS with `count` waiting polls, then one save, and how many answers come back."""
    result = {"count": count}
    warm = PollClient(port)  # one poll round trip and a page, so the idle figure is after start-up
    boot, version = warm.boot, warm.version
    warm.close()
    http = HTTPClient(port)
    http.send("/")
    http.response(now() + 5.0)
    http.close()
    time.sleep(0.5)
    result["rss_idle_mb"] = process.rss() / MB
    request = f"GET {POLL_PATH}?boot={boot}&since={version} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    sockets, errors = [], []
    opened_at = now()
    budget = opened_at + 60.0
    try:
        for _ in range(count):
            if now() > budget:
                errors.append("gave up opening connections after 60 s")
                break
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5.0)
                s.sendall(request)
                sockets.append(s)
            except OSError as error:
                errors.append(f"connect/send: {error}")
                if len(errors) > 20:
                    break
        result["open_s"] = now() - opened_at
        time.sleep(1.0)  # the server has read every request and parked every poll
        result["rss_with_mb"] = process.rss() / MB
        result["threads"] = process.threads()
        readable = ready_now(sockets)
        result["waiting"] = len(sockets) - len(readable)
        if readable:
            errors.append(f"{len(readable)} polls answered or closed before any change")

        # One save; read every answer.
        target = "/css/write.css"
        with open(os.path.join(site, target.lstrip("/")), "w") as f:
            f.write(f"/* fan-out, round {round_number} */ body {{ padding: {round_number}px; }}\n")
        saved = now()
        selector = selectors.DefaultSelector()
        buffers = {}
        for s in sockets:
            if s not in readable:
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ)
                buffers[s] = b""
        answered, other, arrivals = 0, 0, []
        deadline = saved + 10.0
        while buffers and now() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - now())):
                s = key.fileobj
                try:
                    piece = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    piece = b""
                if piece:
                    buffers[s] += piece
                    parsed = parse_response(buffers[s])
                    if not parsed:
                        continue
                    status, body, _ = parsed
                    arrivals.append(now())
                    if status == 200 and target in body.decode("utf-8", "replace"):
                        answered += 1
                    else:
                        other += 1
                else:
                    other += 1
                selector.unregister(s)
                del buffers[s]
        selector.close()
        result["answered"] = answered
        result["other_answers"] = other
        result["unanswered"] = len(buffers)
        result["first_answer_ms"] = (min(arrivals) - saved) * 1000 if arrivals else None
        result["last_answer_ms"] = (max(arrivals) - saved) * 1000 if arrivals else None
        result["rss_after_mb"] = process.rss() / MB
    finally:
        for s in sockets:
            try:
                s.close()
            except OSError:
                pass
    result["rss_increase_mb"] = result["rss_with_mb"] - result["rss_idle_mb"]
    if errors:
        events.append(f"round {round_number}: waiting polls: " + "; ".join(errors[:5]))
    return result


def ready_now(sockets):
    """The sockets that have something to read (an answer, or a close) right now. poll(), not
    select(): descriptor numbers pass 1024 here."""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(0)]


def first_response(process, port, timeout=10.0):
    """Spawns `process` and returns seconds from spawn to the first 200 for GET / (a tight loop of
    connect + request, 1 ms apart while the port refuses), or None."""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    process.spawn()
    started = process.spawned_at
    deadline = started + timeout
    attempts = 0
    while now() < deadline:
        attempts += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
                s.sendall(request)
                data = b""
                while True:
                    piece = s.recv(65536)
                    if not piece:
                        break
                    data += piece
                    parsed = parse_response(data)
                    if parsed:
                        break
            parsed = parse_response(data)
            if parsed and parsed[0] == 200:
                return now() - started, attempts
        except OSError:
            pass
        if process.process.poll() is not None:
            raise ServerFailed(f"{process.name} exited with status {process.process.returncode}:\n"
                               + process.log_tail())
        time.sleep(0.001)
    return None, attempts


def big_tree_test(binary, tree, work, folders, deep_file, launches, idle_seconds, round_number, events):
    """Items 5 then 4: launch to first response over `launches` launches; the last one stays up
    for the idle-CPU measurement once its watches are set."""
    result = {"launch_ms": [], "expected_watches": folders + 1}
    process = None
    try:
        for n in range(launches):
            process, port = devserve(binary, tree, work, f"tree-{round_number}-{n}")
            seconds, attempts = first_response(process, port)
            if seconds is None:
                events.append(f"round {round_number}: big tree: no 200 for GET / within 10 s (launch {n})")
            else:
                result["launch_ms"].append(seconds * 1000)
            if n < launches - 1:
                process.stop()
                process = None

        # The last launch: wait for every watch (and at least 3 s), then 10 s of idleness.
        spawned = process.spawned_at
        expected = result["expected_watches"]
        deadline = spawned + 60.0
        watches, done_at, stable_since, last = None, None, None, None
        while now() < deadline:
            watches = process.inotify_watches()
            if watches is not None and watches >= expected and done_at is None:
                done_at = now()
            if watches != last:
                last, stable_since = watches, now()
            if now() - spawned >= 3.0 and done_at is not None and now() - stable_since >= 1.0:
                break
            time.sleep(0.02)
        result["watches"] = watches
        result["watches_set_ms"] = (done_at - spawned) * 1000 if done_at else None
        if done_at is None:
            events.append(f"round {round_number}: big tree: {watches} inotify watches after 60 s, expected {expected}")
        result["setup_cpu_ms"] = process.cpu_seconds() * 1000
        result["rss_mb"] = process.rss() / MB
        tasks_before = process.task_stats()
        cpu_before, t_before = process.cpu_seconds(), now()
        time.sleep(idle_seconds)
        cpu_after, t_after = process.cpu_seconds(), now()
        tasks_after = process.task_stats()
        if tasks_before and tasks_after:
            # Per thread, over the threads alive at the end (idle dispatch workers may exit
            # during the window; what they did before exiting is not counted here).
            deltas = {tid: (ns - tasks_before.get(tid, (0, 0))[0], sw - tasks_before.get(tid, (0, 0))[1])
                      for tid, (ns, sw) in tasks_after.items()}
            result["idle_cpu_us_schedstat"] = sum(d[0] for d in deltas.values()) / 1000
            result["idle_wakeups"] = sum(d[1] for d in deltas.values())
            result["idle_threads"] = {"before": len(tasks_before), "after": len(tasks_after)}
            result["idle_by_thread"] = {}
            for tid, (ns, sw) in deltas.items():
                try:
                    with open(f"/proc/{process.pid}/task/{tid}/comm") as f:
                        name = f.read().strip()
                except OSError:
                    name = "?"
                result["idle_by_thread"][f"{tid} {name}"] = {"cpu_us": ns / 1000, "switches": sw}
        result["idle_cpu_ms"] = (cpu_after - cpu_before) * 1000
        result["idle_window_s"] = t_after - t_before
        result["idle_cpu_percent"] = (cpu_after - cpu_before) / (t_after - t_before) * 100
        if not process.alive():
            raise ServerFailed(f"{process.name} died during the idle measurement:\n{process.log_tail()}")

        # After the idle window: the watcher is still there, and covers a second-level folder.
        client = PollClient(port)
        try:
            client.drain(0.2)
            saved = save(os.path.join(tree, deep_file.lstrip("/")), f"/* saved after the idle window, "
                         f"round {round_number} */\n", "write", None)
            got = client.next_notice(saved + 2.0)
            if got and deep_file in paths_of(got[1]):
                result["deep_save_ms"] = (got[0] - saved) * 1000
            else:
                events.append(f"round {round_number}: big tree: a save to {deep_file} after the idle window "
                              f"got {'no notice within 2 s' if got is None else paths_of(got[1])}")
        finally:
            client.close()
    finally:
        if process:
            process.stop()
    return result


# ---------------------------------------------------------------------------------------------
# Report


GOALS = {
    "write_median": ("<= 30 ms", lambda v: v <= 30),
    "write_p95": ("<= 50 ms", lambda v: v <= 50),
    "rename_median": ("<= 30 ms", lambda v: v <= 30),
    "rename_p95": ("<= 50 ms", lambda v: v <= 50),
    "burst_notices": ("exactly 1", lambda v: v == 1),
    "polls_rss": ("<= +10 MB", lambda v: v <= 10),
    "polls_answered": ("all answered", None),
    # utime+stime move in 10 ms clock ticks: "~0" is at most one tick in the window (the
    # schedstat row below gives the figure to the microsecond).
    "idle_cpu": ("~0 (<= 1 tick, 10 ms, in the window)", lambda v: v <= 10.001),
    "launch": ("< 200 ms", lambda v: v < 200),
}


def verdict(key, value, extra=None):
    if key not in GOALS:
        return ""
    text, test = GOALS[key]
    if value is None:
        return f"{text}: n/a"
    if key == "polls_answered":
        return f"{text}: " + ("met" if value == extra else "MISSED")
    return f"{text}: " + ("met" if test(value) else "MISSED")


def fmt(value, digits=1):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def build_rows(summary, peer_name):
    s = summary
    rows = [["metric", "unit", "devserve", peer_name or "peer", "goal (devserve)"]]

    def row(label, unit, value, peer_value, key=None, extra=None, digits=1):
        rows.append([label, unit, fmt(value, digits), "-" if peer_value == "-" else fmt(peer_value, digits),
                     verdict(key, value, extra) if key else ""])

    lr = s.get("livereload") or {}
    peer_cell = (lambda k: lr.get(k)) if peer_name else (lambda k: "-")
    n_write, n_rename = s["devserve_samples"]["write"], s["devserve_samples"]["rename"]
    row(f"save to notice, write+close, median of {n_write}", "ms", s["write_median"], peer_cell("write_median"), "write_median")
    row(f"save to notice, write+close, p95 of {n_write}", "ms", s["write_p95"], peer_cell("write_p95"), "write_p95")
    row(f"save to notice, rename, median of {n_rename}", "ms", s["rename_median"], peer_cell("rename_median"), "rename_median")
    row(f"save to notice, rename, p95 of {n_rename}", "ms", s["rename_p95"], peer_cell("rename_p95"), "rename_p95")
    row(f"notices from a {BURST_FILES}-file burst", "notices", s["burst_notices"], "-", "burst_notices")
    row(f"RSS increase, {s['polls']:,} waiting polls", "MB", s["polls_rss"], "-", "polls_rss")
    row(f"waiting polls answered after one save", f"of {s['polls']:,}", s["polls_answered"], "-",
        "polls_answered", extra=s["polls"])
    row(f"idle CPU (utime+stime) over {s['idle_s']:g} s, {s['files']:,} files / {s['folders']:,} folders", "ms",
        s["idle_cpu_ms"], "-", "idle_cpu", digits=0)
    row("launch to first 200 for GET /, same tree", "ms", s["launch"], "-", "launch")
    row("(info) save to notice, write+close, max", "ms", s["write_max"], peer_cell("write_max"))
    row("(info) save to notice, rename, max", "ms", s["rename_max"], peer_cell("rename_max"))
    row("(info) missed saves / extra notices", "count", f"{s['missed']} / {s['extra']}",
        f"{lr.get('missed')} / {lr.get('extra')}" if peer_name else "-")
    row(f"(info) burst: changes listed / first notice after last close", "count / ms",
        f"{fmt(s['burst_changes'])} / {fmt(s['burst_first_ms'])}", "-")
    row("(info) idle RSS before the waiting polls", "MB", s["polls_idle_rss"], "-")
    row("(info) fan-out: save to first / last of the answers", "ms",
        f"{fmt(s['fanout_first_ms'])} / {fmt(s['fanout_last_ms'])}", "-")
    row("(info) big tree: inotify watches / all set after launch", "count / ms",
        f"{fmt(s['watches'])} / {fmt(s['watches_set_ms'], 0)}", "-")
    row("(info) big tree: CPU from launch to the idle window", "ms", s["setup_cpu_ms"], "-", digits=0)
    row("(info) big tree: same window, on-CPU time / wake-ups (schedstat)", "µs / count",
        f"{fmt(s['idle_cpu_us'], 0)} / {fmt(s['idle_wakeups'])}", "-")
    row("(info) big tree: same window, share of one core (schedstat)", "%",
        s["idle_cpu_us"] / (s["idle_s"] * 1e4) if s["idle_cpu_us"] is not None else None, "-", digits=3)
    row("(info) big tree: after the window, a save in a second-level folder to notice", "ms", s["deep_save_ms"], "-")
    row("(info) big tree: RSS, idle", "MB", s["tree_rss"], "-")
    row(f"(info) launch to first 200, max of {s['launches']}", "ms", s["launch_max"], "-")
    return rows


# ---------------------------------------------------------------------------------------------
# Main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=".build/release/devserve", help="the devserve binary (a release build)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (default 1); latencies are pooled over "
                        "rounds, other figures are medians over rounds")
    parser.add_argument("--saves", type=int, default=30, help="saves of each kind per round (default 30)")
    parser.add_argument("--settle", type=float, default=0.2, help="pause before each devserve save, s (default 0.2)")
    parser.add_argument("--polls", type=int, default=1000, help="waiting polls for the RSS test (default 1000)")
    parser.add_argument("--files", type=int, default=20000, help="files in the big tree (default 20000)")
    parser.add_argument("--folders", type=int, default=2000, help="folders in the big tree (default 2000)")
    parser.add_argument("--launches", type=int, default=5, help="launches on the big tree per round (default 5)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idleness measured (default 10)")
    parser.add_argument("--peers", default="livereload", help="'livereload' (default) or 'none'")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders and logs")
    args = parser.parse_args()
    if (args.rounds < 1 or args.saves < 1 or args.polls < 1 or args.launches < 1 or args.folders < 1
            or args.files < 2 or args.idle <= 0 or args.settle < 0 or args.peers not in ("livereload", "none")):
        parser.error("rounds, saves, polls, launches, folders must be >= 1, files >= 2, idle > 0, "
                     "and --peers is 'livereload' or 'none'")

    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        log(f"reload_bench: no devserve binary at {args.binary}: build it with "
            f"'swift build -c release --static-swift-stdlib' (or pass --binary).")
        return 3
    binary = os.path.abspath(args.binary)
    limit = raise_fd_limit(args.polls + 1024)
    if limit < args.polls + 64:
        log(f"reload_bench: warning: only {limit} file descriptors allowed; the waiting-poll test will fall short")

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    work = tempfile.mkdtemp(prefix="devserve-reload-bench-")
    started_at = datetime.datetime.now(datetime.timezone.utc)
    running = []
    events = []
    failed = False
    peer, peer_note = None, None
    pooled = {"devserve": {"write": [], "rename": []}, "livereload": {"write": [], "rename": []}}
    rounds = []
    try:
        scratch = os.path.join(work, "scratch")  # temp files for rename saves: outside every watched tree
        os.mkdir(scratch)
        site = os.path.join(work, "site")
        generate_small_site(site)
        tree = os.path.join(work, "tree")
        t0 = now()
        made_files, made_folders, deep_file = generate_big_tree(tree, args.files, args.folders)
        log(f"reload_bench: generated {tree} ({made_files:,} files, {made_folders:,} folders) in {now() - t0:.1f} s")

        if args.peers == "livereload":
            lr_site = os.path.join(work, "lr-site")
            generate_small_site(lr_site)
            peer = LiveReloadPeer(work, lr_site)
            t0 = now()
            peer_note = peer.install()
            if peer_note:
                log(f"reload_bench: livereload skipped: {peer_note}")
                peer = None
            else:
                log(f"reload_bench: installed {peer.version} in {now() - t0:.1f} s")

        for round_number in range(1, args.rounds + 1):
            log(f"reload_bench: round {round_number}/{args.rounds}")
            record = {}
            round_events = []

            # Items 1 and 2, with the peer interleaved save by save.
            process, port = devserve(binary, site, work, f"latency-{round_number}")
            running.append(process)
            process.spawn()
            process.wait_listening(port)
            time.sleep(0.5)  # watches set on the small site
            round_peer = None
            if peer is not None:
                running.append(peer)
                try:
                    peer.start()
                    round_peer = peer
                except (ServerFailed, OSError, ConnectionError, ValueError) as error:
                    peer_note = f"livereload did not start: {error}"
                    log(f"reload_bench: {peer_note}")
                    peer.stop()
            log(f"  save to notice: {args.saves} saves of each kind"
                + (", livereload interleaved (3 s apart: its reload guard)" if round_peer else ""))
            try:
                latency = latency_test(port, site, scratch, args.saves, args.settle, round_peer, round_number,
                                       round_events)
            except CLIENT_ERRORS as error:
                latency = None
                round_events.append(f"round {round_number}: latency/burst test stopped: {error!r}")
                log(f"reload_bench: {round_events[-1]}")
            if round_peer:
                peer.stop()
            if not process.alive():
                raise ServerFailed(f"devserve died during the latency test:\n{process.log_tail()}")
            process.stop()
            record["latency"] = latency
            if latency:
                for who in ("devserve", "livereload"):
                    for how in ("write", "rename"):
                        pooled[who][how].extend(latency[who][how])
                log(f"  devserve write+close median {fmt(median(latency['devserve']['write']))} ms, rename median "
                    f"{fmt(median(latency['devserve']['rename']))} ms; burst: {latency['burst']['notices']} "
                    f"notice(s), {latency['burst']['changes_listed']} changes")

            # Item 3, on a fresh server.
            process, port = devserve(binary, site, work, f"polls-{round_number}")
            running.append(process)
            process.spawn()
            process.wait_listening(port)
            time.sleep(0.5)
            try:
                polls = waiting_polls_test(process, port, args.polls, site, round_number, round_events)
                log(f"  {args.polls} waiting polls: RSS {fmt(polls['rss_idle_mb'])} -> {fmt(polls['rss_with_mb'])} "
                    f"MB; {polls['answered']} answered, last after {fmt(polls['last_answer_ms'])} ms")
            except CLIENT_ERRORS as error:
                polls = None
                round_events.append(f"round {round_number}: waiting-poll test stopped: {error!r}")
                log(f"reload_bench: {round_events[-1]}")
            if not process.alive():
                raise ServerFailed(f"devserve died during the waiting-poll test:\n{process.log_tail()}")
            process.stop()
            record["polls"] = polls

            # Items 5 and 4, on the big tree.
            try:
                tree_result = big_tree_test(binary, tree, work, made_folders, deep_file, args.launches, args.idle,
                                            round_number, round_events)
                log(f"  big tree: first 200 after {', '.join(fmt(v) for v in tree_result['launch_ms'])} ms; "
                    f"{tree_result['watches']} watches set after {fmt(tree_result['watches_set_ms'], 0)} ms; "
                    f"idle CPU {fmt(tree_result['idle_cpu_ms'], 0)} ms in {fmt(tree_result['idle_window_s'])} s")
            except CLIENT_ERRORS as error:
                tree_result = None
                round_events.append(f"round {round_number}: big-tree test stopped: {error!r}")
                log(f"reload_bench: {round_events[-1]}")
            record["tree"] = tree_result
            record["events"] = round_events
            events.extend(round_events)
            rounds.append(record)
            running = []
    except ServerFailed as error:
        log(f"reload_bench: {error}")
        failed = True
    except KeyboardInterrupt:
        log("reload_bench: interrupted")
        return 130
    finally:
        for item in running:
            item.stop()
        if args.keep:
            log(f"reload_bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    if not rounds:
        return 3

    def over_rounds(item, key, sub=None):
        values = []
        for r in rounds:
            value = r.get(item)
            if value is not None and sub is not None:
                value = value.get(sub)
            if value is not None:
                values.append(value.get(key))
        return median(values)

    ds = pooled["devserve"]
    launches = [v for r in rounds if r["tree"] for v in r["tree"]["launch_ms"]]
    summary = {
        "devserve_samples": {"write": len(ds["write"]), "rename": len(ds["rename"])},
        "write_median": median(ds["write"]), "write_p95": percentile(ds["write"], 0.95),
        "write_max": max(ds["write"]) if ds["write"] else None,
        "rename_median": median(ds["rename"]), "rename_p95": percentile(ds["rename"], 0.95),
        "rename_max": max(ds["rename"]) if ds["rename"] else None,
        "missed": sum(r["latency"]["missed"]["devserve"] for r in rounds if r["latency"]),
        "extra": sum(r["latency"]["extra"]["devserve"] for r in rounds if r["latency"]),
        "burst_notices": over_rounds("latency", "notices", "burst"),
        "burst_changes": over_rounds("latency", "changes_listed", "burst"),
        "burst_first_ms": over_rounds("latency", "first_notice_ms", "burst"),
        "polls": args.polls, "files": made_files, "folders": made_folders, "idle_s": args.idle,
        "polls_rss": over_rounds("polls", "rss_increase_mb"),
        "polls_idle_rss": over_rounds("polls", "rss_idle_mb"),
        "polls_answered": over_rounds("polls", "answered"),
        "fanout_first_ms": over_rounds("polls", "first_answer_ms"),
        "fanout_last_ms": over_rounds("polls", "last_answer_ms"),
        "idle_cpu": over_rounds("tree", "idle_cpu_percent"),
        "idle_cpu_ms": over_rounds("tree", "idle_cpu_ms"),
        "idle_cpu_us": over_rounds("tree", "idle_cpu_us_schedstat"),
        "idle_wakeups": over_rounds("tree", "idle_wakeups"),
        "setup_cpu_ms": over_rounds("tree", "setup_cpu_ms"),
        "watches": over_rounds("tree", "watches"),
        "watches_set_ms": over_rounds("tree", "watches_set_ms"),
        "tree_rss": over_rounds("tree", "rss_mb"),
        "deep_save_ms": over_rounds("tree", "deep_save_ms"),
        "launches": len(launches),
        "launch": median(launches),
        "launch_max": max(launches, default=None),
    }
    for key in ("burst_notices", "burst_changes", "polls_answered", "watches", "idle_wakeups"):
        if summary[key] is not None and float(summary[key]).is_integer():
            summary[key] = int(summary[key])
    lr = pooled["livereload"]
    peer_name = "livereload" if lr["write"] or lr["rename"] else None
    if peer_name:
        summary["livereload"] = {
            "write_median": median(lr["write"]), "write_p95": percentile(lr["write"], 0.95),
            "write_max": max(lr["write"]) if lr["write"] else None,
            "rename_median": median(lr["rename"]), "rename_p95": percentile(lr["rename"], 0.95),
            "rename_max": max(lr["rename"]) if lr["rename"] else None,
            "missed": sum(r["latency"]["missed"]["livereload"] for r in rounds if r["latency"]),
            "extra": sum(r["latency"]["extra"]["livereload"] for r in rounds if r["latency"]),
        }

    rows = build_rows(summary, peer_name)
    print()
    print(f"devserve live-reload benchmarks — {started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{args.rounds} round(s), {args.saves} saves of each kind per round")
    print()
    print_table(rows)
    print()
    print("Save to notice: from the save returning (close(), or rename()) to the poll's answer read in full "
          "(livereload: its websocket `reload` message).")
    print("p95 is nearest-rank. Idle CPU: utime+stime of all threads from /proc/PID/stat, which move in 10 ms "
          "clock ticks; schedstat: /proc/PID/task/*/schedstat, in ns.")
    if peer_name is None:
        print(f"Peer: none measured ({peer_note or 'skipped with --peers none'}).")
    else:
        print(f"Peer: {peer.version if peer else 'livereload'}; it polls every 800 ms and drops changes "
              f"within 3 s of its last reload, so its saves were spaced 3.25-4.05 s apart.")
    by_thread = (rounds[-1]["tree"] or {}).get("idle_by_thread")
    if by_thread:
        busy = [f"{name.split(' ', 1)[1]} {v['cpu_us']:.0f} µs / {v['switches']} wake-ups"
                for name, v in sorted(by_thread.items()) if v["switches"] or v["cpu_us"]]
        print("Idle window on the big tree, by thread (schedstat): " + ("; ".join(busy) or "all asleep")
              + f"; the other {len(by_thread) - len(busy)} thread(s) did not run.")
    kinds = {}
    for r in rounds:
        for k, v in (r["latency"] or {}).get("kinds", {}).items():
            kinds[k] = kinds.get(k, 0) + v
    if kinds:
        print("Kinds reported for the save targets: " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    if events:
        print()
        print("Events (missed saves, extra notices, errors):")
        for event in events[:20]:
            print(f"  {event}")
        if len(events) > 20:
            print(f"  ... {len(events) - 20} more")

    if args.json:
        report = {
            "date": started_at.isoformat(timespec="seconds"),
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "machine": machine_info(),
            "settings": {"rounds": args.rounds, "saves": args.saves, "settle_s": args.settle, "polls": args.polls,
                         "files": made_files, "folders": made_folders, "launches": args.launches,
                         "idle_s": args.idle, "burst_files": BURST_FILES, "binary": binary, "peers": args.peers},
            "peer": {"name": peer_name, "version": peer.version if peer else None, "note": peer_note},
            "summary": summary,
            "samples_ms": pooled,
            "rounds": rounds,
            "kinds": kinds,
            "events": events,
            "table": rows,
            "markdown_table": markdown_table(rows),
        }
        write_report(args.json, report, "reload_bench")
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
