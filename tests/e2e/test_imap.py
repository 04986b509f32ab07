"""
IMAP end to end: imaplib (and a raw client where the wire matters) against
a real `tern serve`, mail delivered through real SMTP.  Each test works in
an account of its own, so the shared server's state does not leak between
tests.
"""
import imaplib
import itertools
import re
import socket
import threading
import time

import pytest

from conftest import message
from imaputil import RawImap, tls_context, wait_for

PW = "secret-" + "pw"
_counter = itertools.count(1)


@pytest.fixture
def user(tern):
    addr = "imap%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def deliver(tern, rcpt, subject="hello", body="Hello there.\r\n", **kw):
    with tern.smtp() as s:
        s.sendmail("sender@remote.example", [rcpt], message(subject=subject, body=body, **kw).encode())


def listing(tern, addr, mailbox="INBOX"):
    """[(uid, flags, subject)] from `tern mail list`."""
    rows = []
    for uid, line in tern.messages(addr, mailbox):
        f = line.split("\t")
        rows.append((uid, f[1], f[5]))
    return rows


def uids(tern, addr, mailbox="INBOX"):
    return [r[0] for r in listing(tern, addr, mailbox)]


def subjects(tern, addr, mailbox="INBOX"):
    return [r[2] for r in listing(tern, addr, mailbox)]


def login(tern, addr, tls=False):
    if tls:
        m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=tls_context(), timeout=15)
    else:
        m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"], timeout=15)
        m.starttls(ssl_context=tls_context())
    m.login(addr, PW)
    return m


def raw(tern, addr=None, tls=True):
    r = RawImap(tern.ports["imaps"], tls=True) if tls else RawImap(tern.ports["imap"])
    if addr:
        r.login(addr)
    return r


# ---- greeting, capabilities, login -------------------------------------------------

def test_greeting_and_logindisabled_before_tls(tern):
    r = RawImap(tern.ports["imap"])
    assert r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2")
    assert b"STARTTLS" in r.greeting and b"LOGINDISABLED" in r.greeting
    _, t = r.cmd('LOGIN "alice@example.test" "%s"' % PW)
    assert t.startswith(b"t1 NO [PRIVACYREQUIRED]")
    _, t = r.cmd("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQtcHc=")
    assert b" NO " in t
    r.close()


def test_starttls_then_login_shows_full_capabilities(tern, user):
    m = login(tern, user)
    typ, caps = m.capability()
    caps = caps[0].split()
    for c in (b"IDLE", b"UIDPLUS", b"MOVE", b"CONDSTORE", b"QRESYNC", b"ESEARCH", b"SPECIAL-USE", b"LITERAL+",
              b"LIST-EXTENDED", b"LIST-STATUS", b"BINARY", b"UTF8=ACCEPT", b"NAMESPACE", b"UNSELECT",
              b"CHILDREN", b"ID", b"ENABLE", b"SASL-IR", b"STATUS=SIZE", b"QUOTA"):
        assert c in caps, c
    assert any(c.startswith(b"APPENDLIMIT=") for c in caps)
    assert b"LOGINDISABLED" not in caps and b"STARTTLS" not in caps
    m.logout()


def test_starttls_discards_injected_commands(tern):
    r = RawImap(tern.ports["imap"])
    r.send("t1 STARTTLS\r\nt2 CAPABILITY\r\n")
    _, t = r.until("t1")
    assert t.startswith(b"t1 OK")
    r.sock = tls_context().wrap_socket(r.sock)
    r.buf = b""
    _, t = r.cmd("NOOP", tag="t3")
    assert t.startswith(b"t3 OK")
    assert b"t2" not in r.buf
    r.close()


def test_login_failure_same_for_unknown_user(tern, user):
    r = raw(tern)
    _, t1 = r.cmd('LOGIN "%s" "wrong"' % user)
    _, t2 = r.cmd('LOGIN "nobody@example.test" "wrong"')
    assert t1 == b"t1 NO [AUTHENTICATIONFAILED] Authentication failed"
    assert t2 == b"t2 NO [AUTHENTICATIONFAILED] Authentication failed"
    r.close()


def test_authenticate_plain_with_initial_response_and_continuation(tern, user):
    import base64
    r = raw(tern)
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" + PW.encode()).decode()
    _, t = r.cmd("AUTHENTICATE PLAIN " + ir)
    assert t.startswith(b"t1 OK [CAPABILITY")
    r.close()
    r = raw(tern)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ "
    r.send(ir + "\r\n")
    _, t = r.until("a")
    assert t.startswith(b"a OK")
    r.close()
    # LOGIN: username and password prompts (base64 "Username:" / "Password:").
    r = raw(tern)
    r.send("b AUTHENTICATE LOGIN\r\n")
    assert r.line() == b"+ VXNlcm5hbWU6"
    r.send(base64.b64encode(user.encode()).decode() + "\r\n")
    assert r.line() == b"+ UGFzc3dvcmQ6"
    r.send(base64.b64encode(PW.encode()).decode() + "\r\n")
    _, t = r.until("b")
    assert t.startswith(b"b OK [CAPABILITY")
    r.close()
    # The client gives up ("*"), or sends what is not base64: BAD, and it may try again.
    r = raw(tern)
    r.send("c AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ "
    r.send("*\r\n")
    _, t = r.until("c")
    assert t.startswith(b"c BAD")
    r.send("d AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ "
    r.send("!!!not base64!!!\r\n")
    _, t = r.until("d")
    assert t.startswith(b"d BAD")
    _, t = r.cmd("AUTHENTICATE CRAM-MD5")
    assert t.startswith(b"t1 NO") or t.startswith(b"t1 BAD"), t
    _, t = r.cmd("AUTHENTICATE PLAIN " + ir)
    assert t.startswith(b"t2 OK")
    r.close()


def test_commands_need_the_right_state(tern, user):
    r = raw(tern)
    _, t = r.cmd("SELECT INBOX")
    assert t.startswith(b"t1 BAD")
    r.login(user)
    _, t = r.cmd("FETCH 1 FLAGS")
    assert t.startswith(b"t3 BAD")
    _, t = r.cmd('LOGIN "a" "b"')
    assert t.startswith(b"t4 BAD")
    r.close()


# ---- SELECT / FETCH ----------------------------------------------------------------

def test_select_reports_counts_and_uids(tern, user):
    for i in range(3):
        deliver(tern, user, subject="m%d" % i)
    r = raw(tern, user)
    lines, t = r.cmd("SELECT INBOX")
    text = b"\n".join(lines)
    assert b"* 3 EXISTS" in text
    assert re.search(rb"\* OK \[UIDVALIDITY \d+\]", text)
    assert b"* OK [UIDNEXT 4]" in text
    assert b"PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)" in text
    assert t.startswith(b"t2 OK [READ-WRITE]")
    assert b"* OK [UNSEEN 1]" in text
    _, t = r.cmd("STORE 1:2 +FLAGS.SILENT (\\Seen)")
    lines, t = r.cmd("EXAMINE INBOX")
    assert t.startswith(b"t4 OK [READ-ONLY]")
    assert b"* OK [UNSEEN 3]" in b"\n".join(lines)
    _, t = r.cmd("SELECT nosuch")
    assert t.startswith(b"t5 NO [NONEXISTENT]")
    # IMAP4rev2 dropped [UNSEEN n] (RFC 9051 Appendix E).
    r.cmd("ENABLE IMAP4rev2")
    lines, t = r.cmd("SELECT INBOX")
    assert t.startswith(b"t7 OK [READ-WRITE]") and b"UNSEEN" not in b"\n".join(lines)
    r.close()


def test_fetch_items_from_index_and_blob(tern, user):
    deliver(tern, user, subject="Fetch me", body="line one\r\nline two\r\n")
    stored = tern.cat(user, 1)
    m = login(tern, user)
    m.select("INBOX")
    typ, data = m.fetch("1", "(FLAGS RFC822.SIZE INTERNALDATE UID ENVELOPE BODYSTRUCTURE)")
    head = data[0] if isinstance(data[0], bytes) else data[0][0]
    assert b"RFC822.SIZE %d" % len(stored) in head
    assert b"UID 1" in head and b"FLAGS (\\Recent)" in head    # this session is the first to see it
    assert b'"Fetch me"' in head
    assert b'BODYSTRUCTURE ("text" "plain"' in head.replace(b"TEXT", b"text").replace(b"PLAIN", b"plain")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == stored
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert data[0][1] == b"line one\r\nline two\r\n"
    assert b"\\Seen" in b" ".join(x if isinstance(x, bytes) else x[0] for x in data)
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: Fetch me\r\n\r\n"
    typ, data = m.fetch("1", "(BODY.PEEK[]<0.10>)")
    assert data[0][0].endswith(b"BODY[]<0> {10}") and data[0][1] == stored[:10]
    typ, data = m.fetch("1", "(RFC822.HEADER)")
    assert data[0][1] == stored[:stored.index(b"\r\n\r\n") + 4]
    typ, data = m.fetch("1", "(BINARY.PEEK[1] BINARY.SIZE[1])")
    flat = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
    assert b"line one" in flat
    m.logout()


def test_large_message_fetch_streams_byte_exact(tern, user):
    # Just under the suite's 1M message limit: far past the in-memory copy
    # threshold, so the literal goes out through conn_write_file.
    body = "".join("line %06d of a long message, padded out with text\r\n" % i for i in range(18000))
    deliver(tern, user, subject="big", body=body)
    stored = tern.cat(user, 1)
    assert len(stored) > 900_000
    m = login(tern, user)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == stored
    m.logout()
    # Items after a streamed literal keep their separating space (once lost with the flushed buffer).
    r = raw(tern, user)
    r.cmd("EXAMINE INBOX")
    lines, t = r.cmd("FETCH 1 (BODY.PEEK[] RFC822.SIZE BODY.PEEK[HEADER] UID)")
    assert t.startswith(b"t3 OK")
    assert b"\r\n RFC822.SIZE %d BODY[HEADER] {" % len(stored) in lines[0]
    assert lines[0].endswith(b"\r\n\r\n UID 1)"), lines[0][-60:]
    r.close()


def test_fetch_bad_sequence_numbers(tern, user):
    deliver(tern, user)
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    _, t = r.cmd("FETCH 5 FLAGS")
    assert t.startswith(b"t3 BAD")
    _, t = r.cmd("FETCH 0 FLAGS")
    assert t.startswith(b"t4 BAD")
    lines, t = r.cmd("UID FETCH 1:4294967295 (FLAGS)")
    assert t.startswith(b"t5 OK") and len(lines) == 1
    lines, t = r.cmd("FETCH " + ",".join(["1"] * 5000) + " UID")
    assert t.startswith(b"t6 OK")
    r.close()


# ---- STORE, EXPUNGE, two sessions ------------------------------------------------------

def test_store_flags_and_keywords_seen_by_second_session(tern, user):
    deliver(tern, user)
    deliver(tern, user)
    a = raw(tern, user)
    b = raw(tern, user)
    a.cmd("SELECT INBOX")       # a claims \Recent for both
    b.cmd("SELECT INBOX")
    lines, t = a.cmd("STORE 1 +FLAGS (\\Flagged $Important)")
    assert t.startswith(b"t3 OK")
    assert any(b"* 1 FETCH (FLAGS (\\Recent \\Flagged $Important))" == l for l in lines), lines
    lines, t = b.cmd("NOOP")
    joined = b"\n".join(lines)
    assert b"* FLAGS (" in joined and b"$Important" in joined
    assert b"* 1 FETCH (FLAGS (\\Flagged $Important))" in joined
    lines, t = a.cmd("STORE 1 -FLAGS.SILENT (\\Flagged)")
    assert lines == [] and t.startswith(b"t4 OK")
    lines, t = a.cmd("FETCH 1 FLAGS")
    assert lines == [b"* 1 FETCH (FLAGS (\\Recent $Important))"]
    lines, _ = a.cmd("STORE 2 FLAGS (\\Seen \\Answered)")
    assert lines == [b"* 2 FETCH (FLAGS (\\Recent \\Seen \\Answered))"]
    assert listing(tern, user)[1][1] == "\\Seen \\Answered"
    a.close()
    b.close()


def test_expunge_seen_by_other_session_only_when_allowed(tern, user):
    for i in range(3):
        deliver(tern, user, subject="e%d" % i)
    a = raw(tern, user)
    b = raw(tern, user)
    a.cmd("SELECT INBOX")
    b.cmd("SELECT INBOX")
    a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    lines, t = a.cmd("EXPUNGE")
    assert lines == [b"* 2 EXPUNGE"] and t.startswith(b"t4 OK")
    # FETCH must not renumber: the expunge stays pending, message 3 keeps its number.
    lines, t = b.cmd("FETCH 3 UID")
    assert b"* 2 EXPUNGE" not in lines
    assert b"* 3 FETCH (UID 3)" in lines
    lines, t = b.cmd("NOOP")
    assert b"* 2 EXPUNGE" in lines
    lines, t = b.cmd("FETCH 2 UID")
    assert lines == [b"* 2 FETCH (UID 3)"]
    assert uids(tern, user) == [1, 3]
    a.close()
    b.close()


def test_uid_expunge_only_named_messages(tern, user):
    for i in range(3):
        deliver(tern, user)
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    r.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    lines, t = r.cmd("UID EXPUNGE 2")
    assert lines == [b"* 2 EXPUNGE"]
    assert uids(tern, user) == [1, 3]
    _, t = r.cmd("CLOSE")
    assert t.startswith(b"t5 OK")
    assert tern.messages(user) == []
    r.close()


# ---- COPY, MOVE, APPEND ---------------------------------------------------------------

def test_copy_and_move_with_copyuid(tern, user):
    deliver(tern, user, subject="one")
    deliver(tern, user, subject="two")
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    lines, t = r.cmd("COPY 1:2 Archive")
    assert re.match(rb"t3 OK \[COPYUID \d+ 1:2 1:2\]", t), t
    lines, t = r.cmd("UID MOVE 1 Trash")
    assert re.match(rb"\* OK \[COPYUID \d+ 1 1\]", lines[0]), lines
    assert lines[1] == b"* 1 EXPUNGE"
    assert t.startswith(b"t4 OK")
    _, t = r.cmd("COPY 1 Nowhere")
    assert t.startswith(b"t5 NO [TRYCREATE]")
    assert subjects(tern, user, "Archive") == ["one", "two"]
    assert subjects(tern, user, "Trash") == ["one"]
    assert subjects(tern, user) == ["two"]
    r.close()


def test_append_is_stored_byte_exact_with_flags_and_date(tern, user):
    msg = b"From: me@example.test\r\nSubject: draft\r\n\r\nDraft body\r\n"
    m = login(tern, user)
    typ, data = m.append("Drafts", "(\\Draft $Later)", '"05-Mar-2024 10:20:30 +0100"', msg)
    assert typ == "OK"
    assert re.match(rb"\[APPENDUID \d+ 1\]", data[0]), data
    assert tern.cat(user, 1, "Drafts") == msg
    m.select("Drafts")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE)")
    assert b"\\Draft" in data[0] and b"$Later" in data[0]
    assert b'" 5-Mar-2024 09:20:30 +0000"' in data[0]
    typ, data = m.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()


def test_append_literal_plus_and_too_big(tern, user):
    r = raw(tern, user)
    msg = b"Subject: plus\r\n\r\nbody\r\n"
    r.send(b"a1 APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    _, t = r.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID")
    r.send(b"a2 APPEND INBOX {999999999999}\r\n")
    _, t = r.until("a2")
    assert t.startswith(b"a2 NO [TOOBIG]")
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t2 OK")
    assert tern.cat(user, 1) == msg
    r.close()


def test_client_vanishing_mid_append_stores_nothing(tern, user):
    r = raw(tern, user)
    r.send(b"a1 APPEND INBOX {100000}\r\n")
    assert r.line().startswith(b"+")
    r.send(b"x" * 5000)
    r.close()
    time.sleep(0.3)
    assert tern.messages(user) == []
    r = raw(tern, user)
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t2 OK")
    r.close()


# ---- SEARCH ----------------------------------------------------------------------------

def test_search_keys_and_esearch(tern, user):
    deliver(tern, user, subject="apples and pears", body="nothing\r\n")
    deliver(tern, user, subject="bananas", body="Grüße from the body\r\n")
    deliver(tern, user, subject="cherries", body="nothing\r\n")
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    r.cmd("STORE 2 +FLAGS.SILENT (\\Seen)")
    assert r.cmd("SEARCH ALL")[0] == [b"* SEARCH 1 2 3"]
    assert r.cmd("SEARCH UNSEEN")[0] == [b"* SEARCH 1 3"]
    assert r.cmd("SEARCH SUBJECT banana")[0] == [b"* SEARCH 2"]
    assert r.cmd("SEARCH OR SUBJECT apples SUBJECT cherries")[0] == [b"* SEARCH 1 3"]
    assert r.cmd("SEARCH NOT SEEN SUBJECT cherries")[0] == [b"* SEARCH 3"]
    assert r.cmd("UID SEARCH UID 2:*")[0] == [b"* SEARCH 2 3"]
    r.send(b"s1 SEARCH CHARSET UTF-8 BODY {6+}\r\nGR\xc3\x9c\xc3\x9f\r\n")
    lines, t = r.until("s1")
    assert lines == [b"* SEARCH 2"], lines
    tag = r.tag()
    lines, t = r.cmd("SEARCH RETURN (MIN MAX COUNT) ALL", tag=tag)
    assert lines == [b'* ESEARCH (TAG "%s") MIN 1 MAX 3 COUNT 3' % tag.encode()], lines
    lines, t = r.cmd("UID SEARCH RETURN (SAVE) SUBJECT cherries")
    assert lines == []
    lines, t = r.cmd("UID FETCH $ (UID)")
    assert lines == [b"* 3 FETCH (UID 3)"]
    _, t = r.cmd("SEARCH CHARSET KOI9-NOPE ALL")
    assert b"NO [BADCHARSET" in t
    r.close()


# ---- IDLE and live delivery --------------------------------------------------------------

def test_idle_sees_smtp_delivery_within_a_second(tern, user):
    deliver(tern, user)
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    r.send("i1 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    t0 = time.time()
    deliver(tern, user, subject="pushed")
    r.sock.settimeout(5)
    assert r.line() == b"* 2 EXISTS"
    assert time.time() - t0 < 1.5
    r.send("DONE\r\n")
    _, t = r.until("i1")
    assert t.startswith(b"i1 OK")
    r.close()


def test_idle_sees_flag_change_and_expunge_from_other_session(tern, user):
    deliver(tern, user)
    deliver(tern, user)
    a = raw(tern, user)
    b = raw(tern, user)
    a.cmd("SELECT INBOX")
    b.cmd("SELECT INBOX")
    b.send("i1 IDLE\r\n")
    assert b.line().startswith(b"+ ")
    a.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert b.line() == b"* 1 FETCH (FLAGS (\\Flagged))"
    a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    seen = [b.line(), b.line()]
    assert b"* 2 EXPUNGE" in seen
    b.send("DONE\r\n")
    b.until("i1")
    a.close()
    b.close()


# ---- CONDSTORE / QRESYNC ---------------------------------------------------------------------

def test_condstore_unchangedsince_and_changedsince(tern, user):
    deliver(tern, user)
    deliver(tern, user)
    r = raw(tern, user)
    lines, t = r.cmd("SELECT INBOX (CONDSTORE)")
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(lines)).group(1))
    lines, _ = r.cmd("FETCH 1:2 (MODSEQ)")
    mod = [int(re.search(rb"MODSEQ \((\d+)\)", l).group(1)) for l in lines]
    r.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    lines, t = r.cmd("STORE 1,2 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % mod[1])
    assert b"[MODIFIED 1]" in t or mod[0] == mod[1], t
    lines, t = r.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % hms)
    assert lines and all(b"MODSEQ" in l for l in lines)
    r.close()


def test_qresync_reports_vanished_and_changes(tern, user):
    for i in range(3):
        deliver(tern, user)
    r = raw(tern, user)
    r.cmd("ENABLE QRESYNC")
    lines, _ = r.cmd("SELECT INBOX")
    text = b"\n".join(lines)
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.cmd("EXPUNGE")
    r.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
    r.cmd("UNSELECT")
    lines, t = r.cmd("SELECT INBOX (QRESYNC (%d %d 1:3))" % (uidvalidity, modseq))
    assert b"* VANISHED (EARLIER) 1" in lines
    assert any(re.match(rb"\* 1 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", l) for l in lines), lines
    r.close()


# ---- hostile input -------------------------------------------------------------------------

def test_bad_commands_get_bad_and_eventually_bye(tern, user):
    r = raw(tern, user)
    _, t = r.cmd("FROBNICATE")
    assert t.startswith(b"t2 BAD")
    r.send(b"x" * 70000 + b"\r\n")
    l = r.line()
    assert l.startswith(b"* BAD")
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t3 OK")
    for i in range(30):
        r.send("b%d BOGUS\r\n" % i)
    assert r.closed_by_server()
    assert b"* BYE" in r.buf


def test_logout(tern, user):
    r = raw(tern, user)
    lines, t = r.cmd("LOGOUT")
    assert lines[0].startswith(b"* BYE") and t.startswith(b"t2 OK")
    assert r.closed_by_server()
