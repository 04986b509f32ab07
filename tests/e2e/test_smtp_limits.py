"""Bad input gets the exact reply code, and the server carries on."""
import os
import socket
import time

from conftest import message


def ehlo(t, role="smtp"):
    r = t.raw(role)
    assert r.cmd("EHLO c.example")[0] == 250
    return r


def test_command_line_over_512_octets(tern):
    r = ehlo(tern)
    # 510 octets + CRLF = 512: allowed
    code, _ = r.cmd("NOOP " + "x" * 505)
    assert code == 250
    code, text = r.cmd("NOOP " + "x" * 506)
    assert (code, text[:5]) == (500, "5.5.2")
    # far beyond any buffer: refused once, the session goes on
    code, text = r.cmd("MAIL FROM:<" + "a" * 100000 + "@remote.example>")
    assert (code, text[:5]) == (500, "5.5.2")
    assert r.cmd("NOOP")[0] == 250
    r.close()


def test_text_line_over_1000_octets(tern):
    r = ehlo(tern)
    r.cmd("MAIL FROM:<x@remote.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: long line\r\n\r\n" + "y" * 999 + "\r\n.\r\n")
    code, texts = r.reply()
    assert (code, texts[0][:5]) == (500, "5.5.2")
    # exactly 998 + CRLF is fine
    r.cmd("MAIL FROM:<x@remote.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: max line\r\n\r\n" + "z" * 998 + "\r\n.\r\n")
    assert r.reply()[0] == 250
    r.close()
    bodies = tern.bodies("alice@example.test")
    assert not any(b"Subject: long line" in m for m in bodies)
    assert any(b"z" * 998 + b"\r\n" in m for m in bodies)


def test_size_parameter_and_oversized_data(tern):
    r = ehlo(tern)
    code, text = r.cmd("MAIL FROM:<x@remote.example> SIZE=%d" % ((1 << 20) + 1))
    assert (code, text[:5]) == (552, "5.3.4")
    assert r.cmd("MAIL FROM:<x@remote.example> SIZE=1000")[0] == 250
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    line = "a" * 900 + "\r\n"
    chunk = "Subject: too big\r\n\r\n" + line * 1300   # ~1.2 MB > 1M limit
    r.send(chunk + ".\r\n")
    code, texts = r.reply()
    assert (code, texts[0][:5]) == (552, "5.3.4")
    assert r.cmd("NOOP")[0] == 250
    r.close()
    assert not any(b"Subject: too big" in m for m in tern.bodies("alice@example.test"))


def test_too_many_recipients(tern):
    r = ehlo(tern)
    r.cmd("MAIL FROM:<x@remote.example>")
    for i in range(10):
        assert r.cmd("RCPT TO:<alice+%d@example.test>" % i)[0] == 250
    code, text = r.cmd("RCPT TO:<bob@example.test>")
    assert (code, text[:5]) == (452, "4.5.3")
    r.send("DATA\r\n")
    assert r.reply()[0] == 354
    r.send("Subject: ten\r\n\r\nx\r\n.\r\n")
    assert r.reply()[0] == 250
    r.close()


def test_bad_sequence(tern):
    r = tern.raw()
    code, text = r.cmd("MAIL FROM:<x@remote.example>")
    assert (code, text[:5]) == (503, "5.5.1")
    r.cmd("EHLO c.example")
    assert r.cmd("RCPT TO:<alice@example.test>")[:1] == (503,)
    code, text = r.cmd("DATA")
    assert (code, text[:5]) == (503, "5.5.1")
    r.cmd("MAIL FROM:<x@remote.example>")
    code, text = r.cmd("MAIL FROM:<x@remote.example>")
    assert (code, text[:5]) == (503, "5.5.1")
    code, text = r.cmd("DATA")
    assert (code, text[:5]) == (503, "5.5.1")
    r.close()


def test_unknown_command_and_syntax_errors(tern):
    r = ehlo(tern)
    code, text = r.cmd("FROB")
    assert (code, text[:5]) == (500, "5.5.1")
    for bad in ("MAIL FROM:x@remote.example", "MAIL FROM:<x@remote.example", "MAIL TO:<x@remote.example>",
                "MAIL FROM:<x@@remote.example>", "MAIL FROM:<x@remote..example>"):
        code, text = r.cmd(bad)
        assert code == 501, (bad, code, text)
    assert r.cmd("EHLO")[0] == 501
    assert r.cmd("DATA now")[0] == 501
    r.close()


def test_too_many_errors_closes_with_421(tern):
    r = ehlo(tern)
    for _ in range(19):
        assert r.cmd("FROB")[0] == 500
    r.send("FROB\r\n")
    assert r.reply()[0] == 500
    code, texts = r.reply()
    assert code == 421
    assert r.closed_by_server()


def test_idle_timeout_421(make_tern):
    t = make_tern(smtp={"timeout": "1s"})
    r = t.raw()
    r.cmd("EHLO c.example")
    started = time.time()
    code, texts = r.reply()
    assert code == 421 and texts[0].startswith("4.4.2")
    assert 0.8 < time.time() - started < 5
    assert r.closed_by_server()


def test_per_ip_connection_limit(make_tern):
    t = make_tern(smtp={"max_connections_per_ip": "3"})
    held = [t.raw() for _ in range(3)]
    extra = t.raw(greet=False)
    code, texts = extra.reply()
    assert code == 421
    assert extra.closed_by_server()
    held[0].cmd("QUIT")
    held[0].close()
    time.sleep(0.2)
    again = t.raw()
    assert again.cmd("NOOP")[0] == 250
    for r in held[1:] + [again]:
        r.close()


def test_limit_is_per_address(make_tern):
    t = make_tern(smtp={"max_connections_per_ip": "2"})
    held = [t.raw(), t.raw()]
    assert t.raw(greet=False).reply()[0] == 421
    other = t.raw(source="127.0.0.2")   # another client is not affected
    assert other.cmd("NOOP")[0] == 250
    for r in held + [other]:
        r.close()


def test_client_that_never_reads_cannot_grow_server_memory(make_tern, monkeypatch):
    # Under ASan every freed block waits in a quarantine (256 MiB by default)
    # and counts as resident: keep it small so RSS measures what is held.
    monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1")
    t = make_tern()
    s = socket.create_connection(("127.0.0.1", t.ports["smtp"]))
    s.setblocking(False)
    rss_before = vmrss(t.proc.pid)
    chunk = b"NOOP\r\n" * 10000
    sent, stalls = 0, 0
    deadline = time.time() + 15
    while time.time() < deadline and stalls < 40:
        try:
            sent += s.send(chunk)
            stalls = 0
        except BlockingIOError:
            stalls += 1
            time.sleep(0.05)
    assert stalls >= 40, "the server kept reading a client that never reads (%d octets)" % sent
    assert sent < 64 << 20, sent
    assert vmrss(t.proc.pid) - rss_before < 32 << 20
    s.close()


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_does_not_spin(make_tern):
    t = make_tern(start=False, smtp={"max_connections_per_ip": "1000"})
    t.start(fd_limit=64)
    held = []
    for _ in range(80):   # more than the process may open
        try:
            held.append(socket.create_connection(("127.0.0.1", t.ports["smtp"]), timeout=2))
        except OSError:
            break
    t.wait_log("accept failed")
    before = cpu_seconds(t.proc.pid)
    time.sleep(1.0)
    assert cpu_seconds(t.proc.pid) - before < 0.5, "accept loop spinning"
    for s in held:
        s.close()
    time.sleep(0.5)
    r = t.raw()   # served again once descriptors are free
    assert r.cmd("NOOP")[0] == 250
    r.close()


def vmrss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_http_request_on_smtp_port_is_dropped(tern):
    r = tern.raw()
    r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.closed_by_server()


def test_server_survives_abrupt_disconnects(tern):
    for payload in (b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\npartial",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50,
                    b"\xff" * 4096):
        s = socket.create_connection(("127.0.0.1", tern.ports["smtp"]))
        s.sendall(payload)
        s.close()
    s = tern.smtp()
    s.sendmail("x@remote.example", ["alice@example.test"], message("after disconnects"))
    s.quit()
    assert not any(b"partial" in m for m in tern.bodies("alice@example.test"))
