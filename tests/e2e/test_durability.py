"""Nothing acknowledged is ever lost; nothing half-written is ever visible."""
import os
import re
import signal
import smtplib
import threading
import time

from conftest import message


def sender(t, stop, acked, errors, worker):
    n = 0
    while not stop.is_set():
        try:
            s = t.smtp()
        except OSError:
            return
        try:
            while not stop.is_set():
                n += 1
                tag = "w%d-%d" % (worker, n)
                body = ("payload %s\r\n" % tag) * 50 + "END %s\r\n" % tag
                s.sendmail("burst@remote.example", ["alice@example.test"], message(tag, body=body))
                acked.append(tag)
        except (smtplib.SMTPException, OSError) as e:
            errors.append(repr(e))
            return


def test_kill9_during_burst_loses_nothing_acknowledged(make_tern):
    t = make_tern()
    stop = threading.Event()
    acked, errors = [], []
    threads = [threading.Thread(target=sender, args=(t, stop, acked, errors, i)) for i in range(8)]
    for th in threads:
        th.start()
    deadline = time.time() + 20
    while len(acked) < 300 and time.time() < deadline:
        time.sleep(0.05)
    t.kill9()
    stop.set()
    for th in threads:
        th.join(timeout=30)
    assert len(acked) >= 100, "burst too slow to be meaningful: %d, %s" % (len(acked), errors[:3])

    t.start()
    bodies = t.bodies("alice@example.test")
    seen = {}
    for m in bodies:
        tag = re.search(rb"Subject: (w\d+-\d+)", m).group(1).decode()
        seen[tag] = seen.get(tag, 0) + 1
        # complete: our headers, the message, and its last line
        assert m.startswith(b"Return-Path: <burst@remote.example>\r\nReceived: ")
        assert m.endswith(b"END %s\r\n" % tag.encode()), tag
        assert m.count(b"payload %s\r\n" % tag.encode()) == 50
    missing = [a for a in acked if a not in seen]
    assert not missing, "acknowledged but lost: %s" % missing[:10]
    dupes = [k for k, v in seen.items() if v > 1]
    assert not dupes, "delivered twice: %s" % dupes
    uids = [u for u, _ in t.messages("alice@example.test")]
    assert uids == sorted(set(uids))
    # nothing left over in the spool once recovered
    leftovers = [f for _, _, files in os.walk(os.path.join(t.data_dir, "spool")) for f in files]
    assert leftovers == []


def test_sigterm_finishes_message_in_flight(make_tern):
    t = make_tern()
    r = t.raw()
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<x@remote.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: in flight\r\n\r\nfirst half\r\n")
    idle = t.raw()
    t.proc.send_signal(signal.SIGTERM)
    # the idle session is told at once
    code, texts = idle.reply()
    assert code == 421 and texts[0].startswith("4.3.2")
    time.sleep(0.3)
    r.send("second half\r\n.\r\n")
    code, texts = r.reply()
    assert code == 250
    code, texts = r.reply()
    assert code == 421
    assert t.stop() == 0
    t.start()
    stored = [m for m in t.bodies("alice@example.test") if b"Subject: in flight" in m]
    assert stored and stored[0].endswith(b"first half\r\nsecond half\r\n")
    assert "msg=stopped" in t.log()


def test_sigterm_during_password_check(make_tern):
    import base64
    t = make_tern(auth={"failure_delay": "300ms"})
    sessions = []
    for password in ("secret-pw", "wrong"):
        r = t.raw("submissions")
        r.cmd("EHLO c.example")
        r.send("AUTH PLAIN %s\r\n" % base64.b64encode(b"\0alice@example.test\0" + password.encode()).decode())
        sessions.append(r)
    # Let the server read both AUTH lines (it may be slow under ASan): a
    # session still idle when SIGTERM lands just gets the 421.  The failure
    # delay (300 ms) keeps the wrong password's check in flight meanwhile.
    time.sleep(0.1)
    t.proc.send_signal(signal.SIGTERM)
    # each gets its answer, then the goodbye
    assert sessions[0].reply()[0] == 235
    assert sessions[1].reply()[0] == 535
    for r in sessions:
        assert r.reply()[0] == 421
    assert t.stop() == 0
