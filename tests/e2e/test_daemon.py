"""The daemon: privilege drop, listeners, readiness and logs."""
import os
import pwd
import re
import socket

import pytest

from conftest import IS_ROOT, RUN_USER, Raw, free_port


@pytest.mark.skipif(not IS_ROOT, reason="needs root to switch users")
def test_serve_drops_privileges(tern):
    status = open("/proc/%d/status" % tern.proc.pid).read()
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    want = str(pwd.getpwnam(RUN_USER).pw_uid)
    assert set(uids) == {want}, status
    groups = re.search(r"^Groups:(.*)$", status, re.M).group(1).split()
    assert "0" not in groups


def test_ready_and_log_format(tern):
    log = tern.log()
    ready = [l for l in log.splitlines() if "msg=ready" in l]
    assert ready and ready[0].startswith("level=info sys=main ")
    for line in log.splitlines():
        assert re.match(r"^level=(debug|info|warn|error) sys=\w+ ", line), line


def test_ipv6_listener(make_tern):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    port = free_port()
    t = make_tern(listen={"smtp": "127.0.0.1:%d, [::1]:%d" % (free_port(), port)})
    r = Raw(port, host="::1")
    code, texts = r.reply()
    assert code == 220 and texts[0].startswith("mx.example.test ESMTP")
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@remote.example>")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: v6\r\n\r\nx\r\n.")[0] == 250
    r.close()
    stored = [m for m in t.bodies("alice@example.test") if b"Subject: v6" in m]
    assert stored and b"([IPv6:::1])" in stored[0]


def test_refuses_to_serve_as_root_without_user(make_tern):
    if not IS_ROOT:
        pytest.skip("only meaningful as root")
    t = make_tern(start=False, provisioned=False)
    text = open(t.conf).read().replace("user = %s\n" % RUN_USER, "")
    open(t.conf, "w").write(text)
    import subprocess
    from conftest import TERN
    r = subprocess.run([TERN, "-c", t.conf, "serve"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "user" in r.stderr


def test_listen_conflict_is_reported(make_tern):
    t = make_tern()
    t2 = make_tern(start=False, provisioned=False,
                   listen={"smtp": "127.0.0.1:%d" % t.ports["smtp"]})
    import subprocess
    from conftest import TERN
    r = subprocess.run([TERN, "-c", t2.conf, "serve"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot listen" in r.stderr


def test_listen_backlog_takes_a_burst_of_clients(make_tern):
    """A burst of clients connecting while the server is busy waits in the
    kernel's accept queue (1024) instead of having its SYNs dropped (each
    drop costs the client a second).  libevent's default would have set 128."""
    import signal
    import time
    t = make_tern()
    os.kill(t.proc.pid, signal.SIGSTOP)      # nothing is accepted meanwhile
    socks = []
    try:
        for _ in range(400):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", t.ports["smtp"]))
            socks.append(s)
        time.sleep(0.5)
        # a connection the queue took has completed its handshake: writable, no error
        import select
        _, writable, _ = select.select([], socks, [], 0)
        done = [s for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
        assert len(done) == 400, "only %d of 400 connections queued" % len(done)
    finally:
        os.kill(t.proc.pid, signal.SIGCONT)
        for s in socks:
            s.close()
    # and once it has seen those go (the per-IP limit counts them until then), it serves
    deadline = time.monotonic() + 10
    while True:
        r = Raw(t.ports["smtp"])
        line = r.readline()
        r.close()
        if line.startswith("220") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert line.startswith("220"), line
