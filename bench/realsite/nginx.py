"""Our own nginx master on 127.0.0.1 serving a static folder (benchmarks only).

No system service: ``nginx -p PREFIX -c PREFIX/nginx.conf -g 'daemon off;'``
runs as our child with a generated config (pid, logs and temp paths in
PREFIX), so stopping it is stopping one process we started. The config is a
plain static-file server: access log off, sendfile, tcp_nopush, keep-alive
with many requests per connection, no gzip (the pages go out as they are on
disk, so both crawlers read the same bytes), ``charset`` not set (the
Content-Type is ``text/html`` and the pages declare UTF-8 in a ``<meta>``, as
nginx's default does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import BenchError, Server, _stop, free_port, wait_http

NGINX = "/usr/sbin/nginx"


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's nginx-light with apt-get when it is missing."""
    found = shutil.which("nginx") or (NGINX if os.path.exists(NGINX) else None)
    if found:
        return found
    print("nginx not found: apt-get install nginx-light ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx-light"]):
        if subprocess.run(argv, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            raise BenchError(f"failed: {' '.join(argv)} (nginx-light is needed to serve the site)")
    # Debian starts the system service on install; ours is a separate master on its own port.
    found = shutil.which("nginx") or NGINX
    if not os.path.exists(found):
        raise BenchError("nginx-light installed but no nginx binary found")
    return found


def config(root: Path, prefix: Path, port: int, workers: int = 1) -> str:
    # One worker: the site costs nginx little CPU, and on 2 cores a second worker only competes
    # with the crawler under test. `user` matters only when the master runs as root (it then
    # reads a temp dir that only root may enter). The open-file cache holds
    # descriptors: at most 2,000 of them, so a crawl of 500 pages/s cannot run
    # nginx out of its descriptor limit (max=20000 did, 40 s into 100,000 products).
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; text/plain txt; application/json json; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    open_file_cache max=2000 inactive=20s;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        index index.html;
    }}
}}
"""


@contextmanager
def nginx(root: Path, prefix: Path) -> Iterator[Server]:
    """nginx serving ``root`` on a free port; its files (config, logs, pid) in ``prefix``."""
    binary = ensure_nginx()
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(config(root.resolve(), prefix.resolve(), port), encoding="utf-8")
    log = prefix / "nginx.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url + "robots.txt", proc, log, timeout=20)
        yield Server(url, proc.pid)
    finally:
        # SIGTERM is nginx's fast shutdown: the master stops its workers and exits.
        _stop(proc)
        if (prefix / "error.log").exists() and "[emerg]" in (prefix / "error.log").read_text(errors="replace"):
            raise BenchError(f"nginx reported errors: {(prefix / 'error.log').read_text()[-1000:]}")
