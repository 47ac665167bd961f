#!/usr/bin/python3
"""RSS of devserve before and after many distinct long request targets (issue 10, point 9).

Serves a one-file folder with --no-reload, sends N GETs of /app.js?<i><15 KB> on one keep-alive
connection, and prints VmRSS before, right after, and after 2 s more of ordinary requests:
    /usr/bin/python3 Tests/Benchmarks/long_targets.py --binary .build/debug/devserve [--count 5000]
"""

import argparse
import re
import socket
import subprocess
import tempfile
import time
import os


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    site = tempfile.mkdtemp(prefix="devserve-targets-")
    with open(os.path.join(site, "app.js"), "w") as f:
        f.write("x = 1\n")
    server = subprocess.Popen(
        [args.binary, site, "--port", "0", "--no-reload", "-q", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.monotonic() + 10
        while port is None and time.monotonic() < deadline:
            match = re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline())
            port = int(match.group(1)) if match else None
        if port is None:
            raise SystemExit("devserve did not say where it listens")

        def rss():
            with open(f"/proc/{server.pid}/status") as status:
                return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))

        connection = socket.create_connection(("127.0.0.1", port), timeout=10)

        def get(path):
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            while len(body) < length:
                body += connection.recv(65536)

        for _ in range(200):
            get("/app.js")
        before = rss()
        query = "a" * 15000
        for i in range(args.count):
            get(f"/app.js?{i}{query}")
        after = rss()
        time.sleep(2)
        for _ in range(200):
            get("/app.js")
        print(f"RSS before {before:.1f} MB, after {args.count} long targets {after:.1f} MB, "
              f"settled {rss():.1f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
