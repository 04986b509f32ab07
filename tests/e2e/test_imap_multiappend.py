r"""
MULTIAPPEND (RFC 3502, issue 13): several messages in one APPEND, stored
in one store transaction and made durable before the tagged OK, all or
none; APPENDUID names every new UID.  The limits: each message at most
APPENDLIMIT (NO [TOOBIG]), at most 64 messages (NO [LIMIT]) and 8 times
APPENDLIMIT in all (NO [LIMIT]).  A refused or broken MULTIAPPEND stores
nothing and leaves no spool file behind; what a second session sees is
checked every time.
"""
import itertools
import os
import re

import pytest

from imaputil import RawImap, wait_for

PW = "secret-" + "pw"
_counter = itertools.count(1)
LIMIT = 1024 * 1024     # the tests' max_message_size (conftest: 1M)


@pytest.fixture
def user(tern):
    addr = "multi%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def rest(tagged):
    """A tagged reply without its tag."""
    return tagged.split(b" ", 1)[1]


def session(tern, addr):
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(addr, PW)
    return r


def msg(subject, body="body\r\n"):
    return "From: a@example.test\r\nSubject: %s\r\n\r\n%s" % (subject, body)


def lit(m, plus=True):
    data = m.encode() if isinstance(m, str) else m
    return b"{%d%s}\r\n" % (len(data), b"+" if plus else b""), data


def send_append(r, mailbox, parts):
    """APPEND with LITERAL+: parts are (prefix text, message) pairs."""
    tag = r.tag()
    out = b"%s APPEND %s" % (tag.encode(), mailbox.encode())
    for prefix, m in parts:
        head, data = lit(m)
        out += b" " + (prefix.encode() + b" " if prefix else b"") + head + data
    r.send(out + b"\r\n")
    return r.until(tag)


def messages(tern, addr, mailbox="INBOX"):
    """What a second session sees: (uid, flags, body) of each message."""
    r = session(tern, addr)
    lines, t = r.cmd("SELECT %s" % mailbox)
    assert b" OK " in t, t
    lines, t = r.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[])")
    r.cmd("LOGOUT")
    out = []
    for l in lines:
        m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", l)
        if m:
            uid = int(re.search(rb"UID (\d+)", l[:m.start()]).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", l[:m.start()]).group(1).decode().split()
            flags = " ".join(f for f in flags if f != "\\Recent")
            out.append((uid, flags, l[m.end():m.end() + int(m.group(1))].decode()))
    return out


def spool_files(tern):
    found = []
    for root, _, files in os.walk(tern.data_dir):
        found += [os.path.join(root, f) for f in files if f.startswith("imap-")]
    return found


def test_two_messages_one_append(tern, user):
    r = session(tern, user)
    _, t = r.cmd("SELECT INBOX")
    uidv = int(re.search(rb"UIDVALIDITY (\d+)", b"\r\n".join(_)).group(1))
    lines, t = send_append(r, "INBOX", [("", msg("one")),
                                        ('(\\Seen $Work) "14-Jul-2023 02:44:25 -0700"', msg("two"))])
    assert rest(t) == b"OK [APPENDUID %d 1:2] APPEND completed" % uidv, t
    assert b"* 2 EXISTS" in lines or wait_for(lambda: b"* 2 EXISTS" in r.cmd("NOOP")[0])
    got = messages(tern, user)
    assert got == [(1, "", msg("one")), (2, "\\Seen $Work", msg("two"))], got
    r2 = session(tern, user)
    lines, t = r2.cmd("UID FETCH 2 INTERNALDATE")
    r2.cmd("SELECT INBOX")
    lines, t = r2.cmd("UID FETCH 2 INTERNALDATE")
    assert lines == [b'* 2 FETCH (UID 2 INTERNALDATE "14-Jul-2023 09:44:25 +0000")'] or \
        lines == [b'* 2 FETCH (INTERNALDATE "14-Jul-2023 09:44:25 +0000" UID 2)'], lines
    assert spool_files(tern) == []


def test_mailbox_missing_stores_nothing(tern, user):
    r = session(tern, user)
    lines, t = send_append(r, "Nowhere", [("", msg("one")), ("", msg("two"))])
    assert rest(t) == b"NO [TRYCREATE] No such mailbox", t
    assert spool_files(tern) == []


@pytest.mark.parametrize("bad,reply", [
    (b"", b"NO [CANNOT] Empty message"),
    (b"Subject: x\r\n\r\nNUL \x00 here\r\n", b"NO [CANNOT] NUL octet in a message; use a literal8"),
])
def test_one_bad_message_stores_none(tern, user, bad, reply):
    """The third message is refused: the first two are not stored either."""
    r = session(tern, user)
    lines, t = send_append(r, "INBOX", [("", msg("one")), ("(\\Flagged)", msg("two")), ("", bad)])
    assert rest(t) == reply, t
    assert messages(tern, user) == []
    assert spool_files(tern) == []
    # and the session goes on: the next APPEND works, its UIDs start at 1
    lines, t = send_append(r, "INBOX", [("", msg("three"))])
    assert re.match(rb"OK \[APPENDUID \d+ 1\] APPEND completed", rest(t)), t


def test_over_quota_stores_none(tern, user):
    """Each message fits the quota alone, both together do not."""
    tern.cli("user", "quota", user, "--storage", "3K")
    r = session(tern, user)
    big = msg("big", "x" * 1800 + "\r\n")
    lines, t = send_append(r, "INBOX", [("", big), ("", big)])
    assert rest(t).startswith(b"NO [OVERQUOTA]"), t
    assert messages(tern, user) == []
    lines, t = send_append(r, "INBOX", [("", big)])
    assert rest(t).startswith(b"OK [APPENDUID"), t
    assert [m[0] for m in messages(tern, user)] == [1]


def test_message_over_appendlimit(tern, user):
    """The second message over APPENDLIMIT, synchronising: NO [TOOBIG] instead of "+", nothing stored."""
    r = session(tern, user)
    head, data = lit(msg("one"))
    r.send(b"m1 APPEND INBOX " + head + data + b" {%d}\r\n" % (LIMIT + 1))
    lines, t = r.until("m1")
    assert rest(t) == b"NO [TOOBIG] Message too large", t
    assert not any(l.startswith(b"+") for l in lines), lines
    assert messages(tern, user) == []
    assert spool_files(tern) == []
    _, t = r.cmd("NOOP")
    assert rest(t).startswith(b"OK"), t


def test_too_many_messages(tern, user):
    r = session(tern, user)
    lines, t = send_append(r, "INBOX", [("", msg("m%d" % i)) for i in range(65)])
    assert rest(t) == b"NO [LIMIT] Too many messages in one APPEND", t
    assert messages(tern, user) == []
    lines, t = send_append(r, "INBOX", [("", msg("m%d" % i)) for i in range(64)])
    assert re.match(rb"OK \[APPENDUID \d+ 1:64\] APPEND completed", rest(t)), t
    got = messages(tern, user)
    assert [m[2] for m in got] == [msg("m%d" % i) for i in range(64)]
    assert spool_files(tern) == []


def test_too_many_octets(tern, user):
    """Nine messages of nearly APPENDLIMIT each: over 8 x APPENDLIMIT in all."""
    r = session(tern, user)
    big = msg("big", "y" * (LIMIT - 100) + "\r\n")
    lines, t = send_append(r, "INBOX", [("", big)] * 9)
    assert rest(t) == b"NO [LIMIT] Too many octets in one APPEND", t
    assert messages(tern, user) == []
    assert spool_files(tern) == []


def test_connection_lost_midway_stores_nothing(tern, user):
    """The client goes away after the first message: nothing is stored, no spool file stays."""
    r = session(tern, user)
    head, data = lit(msg("one"))
    r.send(b"t1 APPEND INBOX " + head + data + b" {50+}\r\nonly part of it")
    r.close()
    assert wait_for(lambda: spool_files(tern) == [])
    assert messages(tern, user) == []


def test_syntax_errors_are_bad(tern, user):
    r = session(tern, user)
    head, data = lit(msg("one"))
    r.send(b"m1 APPEND INBOX " + head + data + b"  " + b"\r\n")
    _, t = r.until("m1")
    assert rest(t).startswith(b"BAD"), t
    r.send(b"m2 APPEND INBOX " + head + data + b" (\\Seen)\r\n")
    _, t = r.until("m2")
    assert rest(t) == b"BAD Missing message literal", t
    assert messages(tern, user) == []
    assert spool_files(tern) == []
