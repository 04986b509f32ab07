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


def still_serves(tern, addr):
    r = logged_in(tern, addr)
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t2 OK"), t
    r.close()


def test_nonsync_append_of_4_gib_is_refused_at_once(tern, user):
    r = logged_in(tern, user)
    started = time.monotonic()
    r.send(b"A APPEND INBOX {%d+}\r\n" % HUGE)
    refused_at_once(r, "A", started)
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
        started = time.monotonic()
        r.send(text)
        refused_at_once(r, "x", started)
    still_serves(tern, user)


def test_sync_literal_over_the_limit_gets_no_continuation(tern, user):
    r = logged_in(tern, user)
    r.send(b"a1 APPEND INBOX {%d}\r\n" % HUGE)
    lines, t = r.until("a1")
    assert t.startswith(b"a1 NO [TOOBIG]"), t
    assert lines == []
    r.send(b"a2 SELECT {70000}\r\n")
    lines, t = r.until("a2")
    assert t.startswith(b"a2 BAD [TOOBIG]"), t
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
    started = time.monotonic()
    r.send(b"a3 APPEND INBOX {%d+}\r\n" % (limit + 1))
    refused_at_once(r, "a3", started)
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
    started = time.monotonic()
    r.send(b"p3 LOGIN {%d+}\r\n" % HUGE)
    refused_at_once(r, "p3", started)
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
    started = time.monotonic()
    r.send(b"c2 APPEND INBOX {%d+}\r\n" % HUGE)
    refused_at_once(r, "c2", started)
    still_serves(tern, user)


def test_other_sessions_carry_on(tern, user):
    """While one client is refused and dropped, another one in the middle of
    its own APPEND is not disturbed."""
    a = logged_in(tern, user)
    a.send(b"a1 APPEND INBOX {29}\r\n")
    assert a.line().startswith(b"+")
    a.send(b"Subject: half\r\n")
    b = logged_in(tern, user)
    started = time.monotonic()
    b.send(b"b1 APPEND INBOX {%d+}\r\n" % HUGE)
    refused_at_once(b, "b1", started)
    a.send(b"\r\nbody of 13\r\n\r\n")
    _, t = a.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID"), t
    assert tern.cat(user, 1) == b"Subject: half\r\n\r\nbody of 13\r\n"
    a.close()
