r"""
IMAP literals over the limit (issue 10): a non-synchronising literal
({N+}, ~{N+}) too big for where it stands is refused the moment its
announcement arrives, with BAD [TOOBIG], * BYE and the connection closed
(RFC 7888 §4: its octets are coming anyway, and reading gigabytes to find
the next command is not an option); a synchronising one ({N}) gets NO
[TOOBIG] (APPEND) or BAD instead of "+", and the session goes on.  In every
command, in literal8, after COMPRESS, and before login, where only small
literals are accepted.  APPENDLIMIT is exactly what is enforced.
"""
import itertools
import re
import socket
import time

import pytest

from imaputil import RawImap
from test_imap_extra import DeflateImap

PW = "secret-" + "pw"
_counter = itertools.count(1)
HUGE = 4294967295


@pytest.fixture
def user(tern):
    addr = "lit%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def logged_in(tern, addr):
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(addr, PW)
    return r


def closed_within(r, seconds):
    """True if the server closes the connection within `seconds` (what it
    still sends is kept in r.buf)."""
    r.sock.settimeout(seconds)
    try:
        while True:
            if hasattr(r, "z_in"):
                r._fill()
                continue
            data = r.sock.recv(65536)
            if not data:
                return True
            r.buf += data
    except (ConnectionError, OSError) as e:
        return not isinstance(e, socket.timeout)


def refused_at_once(r, tag, started):
    """The tagged BAD [TOOBIG] and * BYE, then the close, well before any
    literal octet was sent."""
    lines, t = r.until(tag)
    assert t.startswith(tag.encode() + b" BAD [TOOBIG]"), t
    assert not any(l.startswith(b"+") for l in lines), lines
    assert r.line().startswith(b"* BYE"), r.buf
    assert closed_within(r, 3)
    assert time.monotonic() - started < 3


REFUSALS = (r"msg=\"non-synchronising literal over the limit, closing\"|msg=\"literal over the limit, refused\"|"
            r"msg=\"unreadable non-synchronising literal, closing\"")


def refusals(tern):
    """How many literal refusals the server has logged so far."""
    return len(re.findall(REFUSALS, tern.log(tern.log_offset)))


def logged_once_more(tern, before):
    """Exactly one more refusal line (waiting a little for it to be written)."""
    deadline = time.monotonic() + 5
    while refusals(tern) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    assert refusals(tern) == before + 1, tern.log(tern.log_offset)[-3000:]


def appendlimit(r):
    lines, _ = r.cmd("CAPABILITY")
    return int(re.search(rb" APPENDLIMIT=(\d+)", lines[0]).group(1))


def send_refused(r, tag, data):
    """Send a command whose literal must be refused at once (refused_at_once)."""
    started = time.monotonic()
    r.send(data)
    refused_at_once(r, tag, started)


def still_serves(tern, addr):
    r = logged_in(tern, addr)
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t2 OK"), t
    r.close()


def test_nonsync_append_of_4_gib_is_refused_at_once(tern, user):
    r = logged_in(tern, user)
    limit = appendlimit(r)
    before = refusals(tern)
    started = time.monotonic()
    r.send(b"A APPEND INBOX {%d+}\r\n" % HUGE)
    lines, t = r.until("A")
    assert lines == []
    assert t == b"A BAD [TOOBIG] Literal of 4294967295 octets over the limit of %d" % limit
    assert r.line() == b"* BYE Literal too large, closing"
    assert closed_within(r, 2)
    assert r.buf == b""
    assert time.monotonic() - started < 2
    logged_once_more(tern, before)
    tern.wait_log(r"msg=\"non-synchronising literal over the limit, closing\" ip=127\.0\.0\.1 size=4294967295")
    assert tern.messages(user) == []
    still_serves(tern, user)


def test_nonsync_literal_in_other_commands(tern, user):
    # a mailbox name, a SEARCH string, a binary APPEND (literal8): each over its own limit
    for text in (b"x SELECT {70000+}\r\n", b"x SEARCH SUBJECT {%d+}\r\n" % HUGE,
                 b"x APPEND INBOX ~{%d+}\r\n" % HUGE, b"x APPEND INBOX (\\Seen) {2000000+}\r\n"):
        r = logged_in(tern, user)
        if b"SEARCH" in text:
            r.cmd("SELECT INBOX")
        send_refused(r, "x", text)
    still_serves(tern, user)


def test_sync_literal_over_the_limit_gets_no_continuation(tern, user):
    r = logged_in(tern, user)
    before = refusals(tern)
    r.send(b"a1 APPEND INBOX {%d}\r\n" % HUGE)
    lines, t = r.until("a1")
    assert t == b"a1 NO [TOOBIG] Message too large"
    assert lines == []
    logged_once_more(tern, before)
    r.send(b"a2 SELECT {70000}\r\n")
    lines, t = r.until("a2")
    assert t == b"a2 BAD [TOOBIG] Literal too large"
    assert lines == []
    r.send(b"a3 APPEND INBOX ~{%d}\r\n" % HUGE)
    _, t = r.until("a3")
    assert t.startswith(b"a3 NO [TOOBIG]"), t
    # the client sent nothing more; the session goes on
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t2 OK"), t
    r.close()


def test_appendlimit_is_what_is_enforced(tern, user):
    r = logged_in(tern, user)
    lines, _ = r.cmd("CAPABILITY")
    limit = int(re.search(rb"APPENDLIMIT=(\d+)", lines[0]).group(1))
    head = b"Subject: exactly at the limit\r\n\r\n"
    msg = head + b"x" * (limit - len(head) - 2) + b"\r\n"
    assert len(msg) == limit
    r.send(b"a1 APPEND INBOX {%d}\r\n" % limit)
    assert r.line().startswith(b"+")
    r.send(msg + b"\r\n")
    _, t = r.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID"), t
    assert tern.cat(user, 1) == msg
    # one octet more: refused before "+"
    r.send(b"a2 APPEND INBOX {%d}\r\n" % (limit + 1))
    _, t = r.until("a2")
    assert t.startswith(b"a2 NO [TOOBIG]"), t
    # and as a non-synchronising literal: refused at once
    send_refused(r, "a3", b"a3 APPEND INBOX {%d+}\r\n" % (limit + 1))
    assert [u for u, _ in tern.messages(user)] == [1]


def test_before_login_only_small_literals(tern, user):
    r = RawImap(tern.ports["imaps"], tls=True)
    # LOGIN with literals works
    r.send(b'l1 LOGIN {%d}\r\n' % len(user))
    assert r.line().startswith(b"+")
    r.send(user.encode() + b" {%d}\r\n" % len(PW))
    assert r.line().startswith(b"+")
    r.send(PW.encode() + b"\r\n")
    _, t = r.until("l1")
    assert b" OK " in t, t
    r.close()
    # a literal no login needs: refused, nothing spooled, no "+"
    r = RawImap(tern.ports["imaps"], tls=True)
    r.send(b"p1 LOGIN {20000}\r\n")
    lines, t = r.until("p1")
    assert t.startswith(b"p1 BAD [TOOBIG]"), t
    assert lines == []
    r.send(b"p2 APPEND INBOX {100000}\r\n")
    lines, t = r.until("p2")
    assert t.startswith(b"p2 BAD"), t
    assert not any(l.startswith(b"+") for l in lines)
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t1 OK"), t
    send_refused(r, "p3", b"p3 LOGIN {%d+}\r\n" % HUGE)
    still_serves(tern, user)


def test_after_compress(tern, user):
    r = DeflateImap(tern.ports["imaps"], tls=True)
    r.login(user, PW)
    _, t = r.cmd("COMPRESS DEFLATE")
    assert t.startswith(b"t2 OK"), t
    r.start()
    r.send(b"c1 APPEND INBOX {%d}\r\n" % HUGE)
    _, t = r.until("c1")
    assert t.startswith(b"c1 NO [TOOBIG]"), t
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t3 OK"), t
    send_refused(r, "c2", b"c2 APPEND INBOX {%d+}\r\n" % HUGE)
    still_serves(tern, user)


def test_other_sessions_carry_on(tern, user):
    """While one client is refused and dropped, another one in the middle of
    its own APPEND is not disturbed."""
    a = logged_in(tern, user)
    a.send(b"a1 APPEND INBOX {29}\r\n")
    assert a.line().startswith(b"+")
    a.send(b"Subject: half\r\n")
    b = logged_in(tern, user)
    send_refused(b, "b1", b"b1 APPEND INBOX {%d+}\r\n" % HUGE)
    a.send(b"\r\nbody of 13\r\n\r\n")
    _, t = a.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID"), t
    assert tern.cat(user, 1) == b"Subject: half\r\n\r\nbody of 13\r\n"
    a.close()


def test_count_past_64_bits_is_too_big_not_a_command_injection(tern, user):
    """A count no 64-bit number holds is over every limit, never an
    "invalid literal" after which the literal's octets would be run as
    commands."""
    big = b"9" * 25
    r = logged_in(tern, user)
    limit = appendlimit(r)
    r.send(b"a1 APPEND INBOX {%s}\r\n" % big)
    lines, t = r.until("a1")
    assert (lines, t) == ([], b"a1 NO [TOOBIG] Message too large")
    r.send(b"a2 SELECT {%s}\r\n" % big)
    lines, t = r.until("a2")
    assert (lines, t) == ([], b"a2 BAD [TOOBIG] Literal too large")
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t3 OK"), t
    # non-synchronising: the "literal" carries a command; it must never run
    r.send(b"a3 APPEND INBOX {%s+}\r\nx1 CREATE injected\r\n" % big)
    lines, t = r.until("a3")
    assert (lines, t) == ([], b"a3 BAD [TOOBIG] Literal over the limit of %d" % limit)
    assert r.line() == b"* BYE Literal too large, closing"
    assert closed_within(r, 2)
    assert b"x1" not in r.buf
    # an unreadable non-synchronising count: the same, BAD and close
    r = logged_in(tern, user)
    r.send(b"b1 SELECT {1-2+}\r\nx2 CREATE injected\r\n")
    lines, t = r.until("b1")
    assert (lines, t) == ([], b"b1 BAD Invalid literal")
    assert r.line() == b"* BYE Invalid literal, closing"
    assert closed_within(r, 2)
    assert b"x2" not in r.buf
    r = logged_in(tern, user)
    lines, _ = r.cmd('LIST "" "*"')
    assert not any(b"injected" in l for l in lines), lines
    r.close()


def test_second_literal_of_login_over_the_prelogin_limit(tern, user):
    # synchronising: the password literal is refused, no "+", the session goes on
    r = RawImap(tern.ports["imaps"], tls=True)
    r.send(b"l1 LOGIN {%d}\r\n" % len(user))
    assert r.line().startswith(b"+ ")
    r.send(user.encode() + b" {9000}\r\n")
    lines, t = r.until("l1")
    assert (lines, t) == ([], b"l1 BAD [TOOBIG] Literal too large")
    _, t = r.cmd('LOGIN "%s" "%s"' % (user, PW))
    assert b" OK " in t, t
    r.close()
    # non-synchronising: BAD, BYE, closed at once
    r = RawImap(tern.ports["imaps"], tls=True)
    before = refusals(tern)
    started = time.monotonic()
    r.send(b"l2 LOGIN {%d+}\r\n%s {%d+}\r\n" % (len(user), user.encode(), HUGE))
    lines, t = r.until("l2")
    assert (lines, t) == ([], b"l2 BAD [TOOBIG] Literal of 4294967295 octets over the limit of 8192")
    assert r.line() == b"* BYE Literal too large, closing"
    assert closed_within(r, 2)
    assert time.monotonic() - started < 2
    logged_once_more(tern, before)
    still_serves(tern, user)


def test_prelogin_limit_boundary(tern, user):
    """Before login a literal of 8192 octets is read (LOGIN fails on it as a
    bad password), one of 8193 is refused without "+"."""
    r = RawImap(tern.ports["imaps"], tls=True)
    r.send(b'p1 LOGIN "%s" {8192}\r\n' % user.encode())
    assert r.line().startswith(b"+ ")
    r.send(b"x" * 8192 + b"\r\n")
    _, t = r.until("p1")
    assert t.startswith(b"p1 NO "), t
    r.send(b'p2 LOGIN "%s" {8193}\r\n' % user.encode())
    lines, t = r.until("p2")
    assert (lines, t) == ([], b"p2 BAD [TOOBIG] Literal too large")
    r.close()


def test_refused_even_when_the_octets_come_at_once(tern, user):
    """A LITERAL+ client does not wait: its octets are already streaming
    when the refusal goes out.  The refusal still arrives, the connection
    is closed, and nothing is stored."""
    import threading
    r = logged_in(tern, user)
    limit = appendlimit(r)
    n = limit + 1

    def pour():
        try:
            r.sock.sendall(b"s1 APPEND INBOX {%d+}\r\n" % n + b"y" * (1 << 20))
        except OSError:
            pass

    th = threading.Thread(target=pour, daemon=True)
    started = time.monotonic()
    th.start()
    lines, t = r.until("s1")
    assert (lines, t) == ([], b"s1 BAD [TOOBIG] Literal of %d octets over the limit of %d" % (n, limit))
    assert r.line() == b"* BYE Literal too large, closing"
    assert closed_within(r, 2)
    assert time.monotonic() - started < 3
    th.join(5)
    assert tern.messages(user) == []
    still_serves(tern, user)

