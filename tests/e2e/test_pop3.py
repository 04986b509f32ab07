"""POP3 (110 STLS, 995 implicit TLS) with Python's poplib and a raw line client:
every command, every error reply, TLS and plaintext rules, the maildrop lock,
deletion only at QUIT, byte-exact retrieval, \\Seen, throttling and limits."""
import base64
import poplib
import re
import socket
import ssl
import time

import pytest

from conftest import Raw, client_tls_context, message

PW = "secret-" + "pw"
ALICE = "alice@example.test"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def deliver(t, to=ALICE, **kw):
    """Deliver one message over SMTP; returns the message as sent (bytes)."""
    msg = message(to=to, **kw)
    s = t.smtp()
    s.sendmail("sender@remote.example", [to], msg)
    s.quit()
    return msg.encode()


class Pop(Raw):
    """Raw POP3 lines, for what poplib hides (exact replies, wire bytes, pipelining)."""

    def __init__(self, t, role="pop3", greet=True):
        super().__init__(t.ports[role], tls=(role == "pop3s"))
        if greet:
            line = self.readline()
            assert line.startswith("+OK "), line

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.readline()

    def multi(self):
        """The raw lines of a multi-line response up to and without the "." line."""
        lines = []
        while True:
            line = self.readline()
            if line == ".":
                return lines
            lines.append(line)

    def raw_multi(self):
        """The wire bytes of a multi-line response, terminator included."""
        while b"\r\n.\r\n" not in self.buf and not self.buf.startswith(b".\r\n"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        if self.buf.startswith(b".\r\n"):
            end = 3
        else:
            end = self.buf.index(b"\r\n.\r\n") + 5
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def starttls(self):
        assert self.cmd("STLS").startswith("+OK")
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def login(self, user=ALICE, password=PW):
        assert self.cmd("USER " + user).startswith("+OK")
        reply = self.cmd("PASS " + password)
        assert reply.startswith("+OK"), reply
        return reply


@pytest.fixture
def fresh(make_tern):
    """An instance of its own, so that the maildrop's contents are known."""
    return make_tern()


def uids(t, address=ALICE):
    return [uid for uid, _ in t.messages(address)]


def flags(t, uid, address=ALICE):
    for u, line in t.messages(address):
        if u == uid:
            return line.split("\t")[1]
    raise AssertionError("no uid %d" % uid)


# ---- greeting, CAPA, TLS ---------------------------------------------------

def test_greeting_has_no_apop_timestamp(tern):
    p = tern.pop3(user=None, stls=False)
    assert p.getwelcome().startswith(b"+OK ")
    assert b"<" not in p.getwelcome()
    p.quit()


def test_capa_before_and_after_stls(tern):
    p = tern.pop3(user=None, stls=False)
    caps = p.capa()
    for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE", "LOGIN-DELAY",
              "STLS", "IMPLEMENTATION"):
        assert c in caps, c
    assert caps["EXPIRE"] == ["NEVER"] and caps["LOGIN-DELAY"] == ["0"]
    # no plaintext login offered before TLS (RFC 2595 section 4)
    assert "USER" not in caps and "SASL" not in caps
    p.stls(context=client_tls_context())
    caps = p.capa()
    assert "STLS" not in caps
    assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"]
    p.quit()


def test_pop3s_implicit_tls(tern):
    p = tern.pop3s(user=None)
    assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    r = Pop(tern, "pop3s")
    assert r.cmd("STLS") == "-ERR TLS already active"
    r.close()
    p.user(ALICE)
    assert p.pass_(PW).startswith(b"+OK Logged in")
    p.quit()


def test_stls_twice_and_injection(tern):
    r = Pop(tern)
    # CVE-2011-0411 style: commands pipelined behind STLS must not run inside TLS
    r.send("STLS\r\nUSER " + ALICE + "\r\n")
    reply = r.readline()
    assert reply.startswith("-ERR STLS must be the last command"), reply
    assert r.cmd("PASS " + PW).startswith("-ERR"), "the pipelined USER was discarded"
    r.starttls()
    assert r.cmd("STLS") == "-ERR TLS already active"
    r.login()
    r.close()


def test_stls_forgets_user_given_before(make_tern):
    t = make_tern(auth={"allow_plaintext": "yes"})
    r = Pop(t)
    assert r.cmd("USER " + ALICE) == "+OK Send PASS"
    r.starttls()
    # RFC 2595 section 4: after STLS the client starts over
    assert r.cmd("PASS " + PW) == "-ERR Send USER first"
    r.login()
    r.close()


def test_plaintext_refused_without_tls(tern):
    r = Pop(tern)
    for line in ("USER " + ALICE, "PASS " + PW, "AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PW))):
        assert r.cmd(line) == \
            "-ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS or port 995"
    assert r.cmd("STAT") == "-ERR STAT not allowed before login"
    r.close()


def test_plaintext_allowed_when_configured(make_tern):
    t = make_tern(auth={"allow_plaintext": "yes"})
    p = t.pop3(stls=False)
    assert p.stat() == (0, 0)
    p.quit()


# ---- login -----------------------------------------------------------------

def test_user_pass_and_sasl(tern):
    p = tern.pop3()
    assert p.noop().startswith(b"+OK")
    p.quit()

    r = Pop(tern, "pop3s")
    assert r.cmd("AUTH PLAIN " + b64("\0bob@example.test\0" + PW)).startswith("+OK Logged in")
    r.close()

    r = Pop(tern, "pop3s")
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd(b64("\0bob@example.test\0" + PW)).startswith("+OK Logged in")
    r.close()

    r = Pop(tern, "pop3s")
    reply = r.cmd("AUTH LOGIN")
    assert reply.startswith("+ ") and base64.b64decode(reply[2:]) == b"Username:"
    reply = r.cmd(b64("bob@example.test"))
    assert base64.b64decode(reply[2:]) == b"Password:"
    assert r.cmd(b64(PW)).startswith("+OK Logged in")
    r.close()

    # the legacy mechanism listing, and a cancelled exchange
    r = Pop(tern, "pop3s")
    assert r.cmd("AUTH") == "+OK Mechanisms follow"
    assert r.multi() == ["PLAIN", "LOGIN"]
    assert r.cmd("AUTH CRAM-MD5") == "-ERR Unsupported authentication mechanism"
    assert r.cmd("AUTH LOGIN").startswith("+ ")
    assert r.cmd("*") == "-ERR Authentication cancelled"
    assert r.cmd("AUTH PLAIN ####") == "-ERR [AUTH] Cannot decode the AUTH response"
    assert r.cmd("APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb") == \
        "-ERR APOP not supported, use USER/PASS or AUTH"
    r.close()


def test_wrong_password_and_unknown_user_look_alike(tern):
    r = Pop(tern, "pop3s")
    assert r.cmd("USER " + ALICE) == "+OK Send PASS"
    assert r.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed"
    assert r.cmd("USER nobody@example.test") == "+OK Send PASS"
    assert r.cmd("PASS " + PW) == "-ERR [AUTH] Authentication failed"
    assert r.cmd("AUTH PLAIN " + b64("\0nobody@example.test\0" + PW)) == "-ERR [AUTH] Authentication failed"
    r.close()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        tern.pop3(password="wrong")


def test_failed_logins_are_throttled(make_tern):
    t = make_tern(auth={"failure_delay": "200ms", "max_failure_delay": "2s"})
    r = Pop(t, "pop3s")
    delays = []
    for _ in range(3):
        r.cmd("USER carol@other.test")
        start = time.monotonic()
        assert r.cmd("PASS nope") == "-ERR [AUTH] Authentication failed"
        delays.append(time.monotonic() - start)
    assert delays[0] >= 0.18 and delays[1] >= 0.38 and delays[2] >= 0.78, delays
    r.close()
    assert "nope" not in t.log()


def test_password_never_logged(make_tern):
    t = make_tern(log_level="debug")
    deliver(t)
    p = t.pop3()
    p.retr(1)
    p.quit()
    r = Pop(t, "pop3s")
    r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PW)))
    r.close()
    t.wait_log(r"sys=pop3 .*msg=end user=alice@example.test retrieved=1 deleted=0")
    log = t.log()
    assert PW not in log and b64("\0%s\0%s" % (ALICE, PW)) not in log


# ---- the maildrop ------------------------------------------------------------

def test_stat_list_retr_exact(fresh):
    t = fresh
    sent = [deliver(t, subject="one"),
            deliver(t, subject="dots", body=".leading dot\r\n..two dots\r\n.\r\nend\r\n"),
            deliver(t, subject="three", body=("x" * 900 + "\r\n") * 20)]
    stored = t.bodies(ALICE)
    for s, m in zip(sent, stored):
        assert m.endswith(s)   # what was delivered, after our trace headers
    sizes = [len(m) for m in stored]

    p = t.pop3()
    assert p.stat() == (3, sum(sizes))
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert listing == [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)]
    assert p.list(2) == b"+OK 2 %d" % sizes[1]
    # the sizes are those `tern mail list` shows
    assert [int(line.split("\t")[2]) for _, line in t.messages(ALICE)] == sizes
    for i, m in enumerate(stored):
        resp, lines, octets = p.retr(i + 1)
        assert resp == b"+OK %d octets" % len(m)
        assert octets == len(m)
        assert b"\r\n".join(lines) + b"\r\n" == m
    p.quit()


def test_dot_stuffing_on_the_wire(fresh):
    t = fresh
    deliver(t, subject="dots", body=".a\r\n.\r\n..\r\nb.\r\n")
    stored = t.bodies(ALICE)[0]
    r = Pop(t, "pop3s")
    r.login()
    assert r.cmd("RETR 1") == "+OK %d octets" % len(stored)
    wire = r.raw_multi()
    assert wire == stored.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    assert b"\r\n..a\r\n..\r\n...\r\nb.\r\n.\r\n" in wire
    r.close()


def test_top(fresh):
    t = fresh
    deliver(t, subject="top", body="l1\r\n.l2\r\nl3\r\n")
    stored = t.bodies(ALICE)[0]
    head, body = stored.split(b"\r\n\r\n", 1)
    p = t.pop3()
    _, lines, _ = p.top(1, 0)
    assert b"\r\n".join(lines) + b"\r\n" == head + b"\r\n\r\n"
    _, lines, _ = p.top(1, 2)
    assert b"\r\n".join(lines) + b"\r\n" == head + b"\r\n\r\nl1\r\n.l2\r\n"
    _, lines, _ = p.top(1, 100)
    assert b"\r\n".join(lines) + b"\r\n" == stored
    p.quit()
    assert "\\Seen" not in flags(t, uids(t)[0]), "TOP does not set \\Seen"


def test_retr_sets_seen_as_imap_sees_it(fresh):
    t = fresh
    deliver(t)
    deliver(t)
    u1, u2 = uids(t)
    p = t.pop3()
    p.retr(2)
    assert "\\Seen" not in flags(t, u2), "recorded at the end of the session, all at once"
    p.quit()
    assert "\\Seen" in flags(t, u2)
    assert "\\Seen" not in flags(t, u1)


def test_seen_at_quit_is_durable(make_tern):
    t = make_tern()
    for _ in range(5):
        deliver(t)
    r = Pop(t, "pop3s")
    r.login()
    for n in range(1, 6):
        assert r.cmd("RETR %d" % n).startswith("+OK")
        r.multi()
    assert r.cmd("DELE 5").startswith("+OK")
    assert r.cmd("QUIT") == "+OK Bye (4 messages left)"
    t.kill9()               # right after +OK: \Seen and the expunge must already be on disk
    assert [("\\Seen" in line) for _, line in t.messages(ALICE)] == [True] * 4
    t.start()


def test_drop_without_quit_records_seen(fresh):
    t = fresh
    deliver(t)
    deliver(t)
    u1, u2 = uids(t)
    p = t.pop3()
    p.retr(1)
    p.dele(1)
    p.top(2, 0)
    p.close()               # no QUIT: \Seen recorded, nothing deleted
    t.wait_log(r"msg=end user=alice@example.test retrieved=1 deleted=0 quit=no")
    assert uids(t) == [u1, u2]
    assert "\\Seen" in flags(t, u1)
    assert "\\Seen" not in flags(t, u2), "TOP is no retrieval"


def test_uidl_stable_and_unique(fresh):
    t = fresh
    deliver(t)
    deliver(t)
    deliver(t)
    p = t.pop3()
    _, listing, _ = p.uidl()
    ids = [line.split()[1] for line in listing]
    assert len(set(ids)) == 3
    for uid, x in zip(uids(t), ids):
        assert re.fullmatch(rb"[0-9]+\.%d" % uid, x), x
        assert 1 <= len(x) <= 70
    assert p.uidl(2).split()[2] == ids[1]
    p.dele(1)
    p.quit()
    p = t.pop3()
    _, listing, _ = p.uidl()
    assert [line.split()[1] for line in listing] == ids[1:], "same message, same UIDL, in every session"
    p.quit()


def test_dele_then_quit_expunges(fresh):
    t = fresh
    for i in range(3):
        deliver(t, subject="m%d" % i)
    before = uids(t)
    p = t.pop3()
    p.dele(1)
    p.dele(3)
    assert p.stat()[0] == 1
    assert uids(t) == before, "nothing deleted before QUIT"
    assert p.quit().startswith(b"+OK Bye")
    assert uids(t) == [before[1]], "deleted when +OK to QUIT arrived"
    t.wait_log(r"msg=end user=alice@example.test retrieved=0 deleted=2 quit=yes")


def test_rset_unmarks(fresh):
    t = fresh
    deliver(t)
    deliver(t)
    p = t.pop3()
    p.dele(1)
    p.dele(2)
    assert p.stat()[0] == 0
    assert p.rset().startswith(b"+OK 2 messages")
    assert p.stat()[0] == 2
    p.quit()
    assert len(uids(t)) == 2


def test_drop_without_quit_keeps_mail(fresh):
    t = fresh
    deliver(t)
    deliver(t)
    p = t.pop3()
    p.dele(1)
    p.dele(2)
    p.close()               # no QUIT: nothing may be deleted
    p = t.pop3()            # and the lock is gone with the connection
    assert p.stat()[0] == 2
    p.quit()
    assert len(uids(t)) == 2
    t.wait_log(r"msg=end user=alice@example.test retrieved=0 deleted=0 quit=no")


def test_new_mail_during_session_is_not_numbered(fresh):
    t = fresh
    deliver(t)
    p = t.pop3()
    assert p.stat()[0] == 1
    deliver(t)
    assert p.stat()[0] == 1, "message numbers are fixed for the session"
    with pytest.raises(poplib.error_proto, match="No such message"):
        p.retr(2)
    p.quit()
    p = t.pop3()
    assert p.stat()[0] == 2
    p.quit()


def test_in_use(fresh):
    t = fresh
    deliver(t)
    a = t.pop3()
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        t.pop3s()
    # another account is not affected
    b = t.pop3s(user="bob@example.test")
    b.quit()
    # the session refused stays in AUTHORIZATION and may try again
    r = Pop(t, "pop3s")
    r.cmd("USER " + ALICE)
    assert r.cmd("PASS " + PW) == "-ERR [IN-USE] Maildrop already in use by another session"
    a.quit()
    assert r.login().startswith("+OK Logged in, 1 messages")
    r.close()


def test_empty_maildrop(fresh):
    p = fresh.pop3()
    assert p.stat() == (0, 0)
    assert p.list()[1] == []
    assert p.uidl()[1] == []
    assert p.quit() == b"+OK Bye (maildrop empty)"


# ---- errors ------------------------------------------------------------------

def check_replies(t, pairs, login=True):
    """Send each command and compare the reply exactly; a new session every 8
    commands stays under the error limit."""
    for k in range(0, len(pairs), 8):
        r = Pop(t, "pop3s")
        if login:
            r.login()
        for line, reply in pairs[k:k + 8]:
            assert r.cmd(line) == reply, line
        r.close()


def test_every_error_reply(fresh):
    t = fresh
    deliver(t)
    check_replies(t, [
        ("LIST", "-ERR LIST not allowed before login"),
        ("RETR 1", "-ERR RETR not allowed before login"),
        ("DELE 1", "-ERR DELE not allowed before login"),
        ("PASS " + PW, "-ERR Send USER first"),
        ("USER", "-ERR Syntax: USER name"),
        ("USER a b", "-ERR Syntax: USER name"),
        ("CAPA x", "-ERR This command takes no arguments"),
        ("XTND XMIT", "-ERR Unknown command"),
    ], login=False)
    check_replies(t, [
        ("HELO", "-ERR Unknown command"),
        ("", "-ERR Unknown command"),
        ("USER " + ALICE, "-ERR USER not allowed after login"),
        ("AUTH PLAIN", "-ERR AUTH not allowed after login"),
        ("STLS", "-ERR STLS not allowed after login"),
        ("RETR", "-ERR Syntax: RETR message"),
        ("RETR 1 2", "-ERR Syntax: RETR message"),
        ("RETR x", "-ERR Invalid message number"),
        ("RETR -1", "-ERR Invalid message number"),
        ("RETR 0", "-ERR No such message"),
        ("RETR 2", "-ERR No such message"),
        ("RETR 99999999999999999999999", "-ERR No such message"),
        ("TOP 1", "-ERR Syntax: TOP message lines"),
        ("TOP 1 x", "-ERR Invalid number of lines"),
        ("TOP 2 0", "-ERR No such message"),
        ("LIST 2", "-ERR No such message"),
        ("LIST 1 1", "-ERR Syntax: LIST [message]"),
        ("UIDL 2", "-ERR No such message"),
        ("UIDL x", "-ERR Invalid message number"),
        ("DELE", "-ERR Syntax: DELE message"),
        ("STAT 1", "-ERR This command takes no arguments"),
        ("RSET 1", "-ERR This command takes no arguments"),
    ])
    check_replies(t, [
        ("DELE 1", "+OK Message 1 deleted"),
        ("DELE 1 ", "-ERR Message is deleted"),
        ("RETR 1", "-ERR Message is deleted"),
        ("TOP 1 0", "-ERR Message is deleted"),
        ("LIST 1", "-ERR Message is deleted"),
        ("UIDL 1", "-ERR Message is deleted"),
        ("STAT", "+OK 0 0"),
    ])
    assert len(uids(t)) == 1


def test_line_length_limit(tern):
    r = Pop(tern, "pop3s")
    assert r.cmd("NOOP" + " " * 249) == "+OK"           # 255 octets with CRLF
    assert r.cmd("NOOP" + " " * 250) == "-ERR Line too long"
    assert r.cmd("USER " + "a" * 100000) == "-ERR Line too long"
    assert r.cmd("NOOP") == "+OK", "the rest of the long line was discarded"
    r.close()


def test_too_many_errors_close_the_connection(tern):
    r = Pop(tern, "pop3s")
    for _ in range(9):
        assert r.cmd("WHAT") == "-ERR Unknown command"
    assert r.cmd("WHAT") == "-ERR Unknown command"
    assert r.readline() == "-ERR Too many errors, closing connection"
    assert r.closed_by_server()


def test_pipelining(fresh):
    t = fresh
    deliver(t, subject="p1")
    deliver(t, subject="p2")
    stored = t.bodies(ALICE)
    r = Pop(t, "pop3s")
    r.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 2\r\nUIDL 1\r\nDELE 1\r\nQUIT\r\n" % (ALICE, PW))
    assert r.readline() == "+OK Send PASS"
    assert r.readline().startswith("+OK Logged in")
    assert r.readline().startswith("+OK 2 ")
    assert r.readline() == "+OK %d octets" % len(stored[1])
    assert r.raw_multi() == stored[1] + b".\r\n"
    assert r.readline().startswith("+OK 1 ")
    assert r.readline() == "+OK Message 1 deleted"
    assert r.readline() == "+OK Bye (1 messages left)"
    assert r.closed_by_server()
    assert len(uids(t)) == 1


def test_large_message_streams_byte_exact(make_tern):
    t = make_tern(smtp={"max_message_size": "20M"})
    body = "".join(".%070d\r\n" % i for i in range(120000))   # ~8.6 MB, every line stuffed
    deliver(t, subject="big", body=body)
    stored = t.bodies(ALICE)[0]
    p = t.pop3s()
    resp, lines, octets = p.retr(1)
    assert octets == len(stored)
    assert b"\r\n".join(lines) + b"\r\n" == stored
    p.quit()


def test_shutdown_keeps_marked_mail(make_tern):
    t = make_tern()
    deliver(t)
    r = Pop(t, "pop3s")
    r.login()
    assert r.cmd("DELE 1").startswith("+OK")
    t.stop()
    assert r.readline() == "-ERR [SYS/TEMP] Server shutting down"
    assert r.closed_by_server()
    assert len(uids(t)) == 1
    t.start()


def test_quit_expunge_is_durable(make_tern):
    t = make_tern()
    deliver(t)
    deliver(t)
    r = Pop(t, "pop3s")
    r.login()
    assert r.cmd("DELE 1").startswith("+OK")
    assert r.cmd("QUIT") == "+OK Bye (1 messages left)"
    t.kill9()               # right after +OK: the expunge must already be on disk
    assert len(uids(t)) == 1
    t.start()


def test_crash_leaves_no_stuck_lock(make_tern):
    t = make_tern()
    deliver(t)
    p = t.pop3s()           # holds the maildrop
    p.dele(1)
    t.kill9()
    p.close()
    t.start()
    p = t.pop3s()
    assert p.stat()[0] == 1, "not locked, nothing deleted"
    p.quit()


def test_deletions_and_seen_visible_to_imap(fresh):
    import imaplib
    t = fresh
    if "imaps" not in t.ports or re.search(r'not bound" proto=imaps', t.log()):
        pytest.skip("IMAP is not served by this build")
    deliver(t, subject="first")
    deliver(t, subject="second")
    m = imaplib.IMAP4_SSL("127.0.0.1", t.ports["imaps"], ssl_context=client_tls_context(), timeout=15)
    m.login(ALICE, PW)
    assert m.select("INBOX")[1] == [b"2"]
    p = t.pop3()
    p.retr(1)
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    expunged = flagged = None
    deadline = time.time() + 5
    while time.time() < deadline and not (expunged and flagged):
        m.noop()
        expunged = expunged or m.response("EXPUNGE")[1][0]
        typ, data = m.fetch("1", "(FLAGS)")
        flagged = b"\\Seen" in data[0]
        time.sleep(0.05)
    assert expunged == b"2", "the POP3 deletion reaches the open IMAP session"
    assert flagged, "RETR's \\Seen is what IMAP sees"
    m.logout()
