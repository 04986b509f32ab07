r"""
IMAP end to end, the parts test_imap.py leaves out: COMPRESS=DEFLATE on
the wire, QUOTA enforced on APPEND, COPY and SMTP delivery, every FETCH
section form on a nested MIME message, BINARY APPEND (literal8) and the NUL
rule, SEARCH on RFC 2047 headers and transfer-encoded bodies, CHECK, ID,
hostile input (huge sequence sets, overlong lines, bad literals), and
\Recent for IMAP4rev1 sessions.  The idle timeouts are tested in process
(tests/unit/test_imap_session.c), where they can be shortened.
"""
import itertools
import os
import re
import smtplib
import time
import zlib

import pytest

from conftest import message
from imaputil import RawImap

PW = "secret-" + "pw"
_counter = itertools.count(1)


@pytest.fixture
def user(tern):
    addr = "extra%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def deliver(tern, rcpt, raw_bytes):
    with tern.smtp() as s:
        s.sendmail("sender@remote.example", [rcpt], raw_bytes)


def raw(tern, addr):
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(addr, PW)
    return r


class DeflateImap(RawImap):
    """RawImap after COMPRESS DEFLATE: raw deflate both ways (RFC 4978)."""

    def start(self):
        self.z_out = zlib.compressobj(wbits=-15)
        self.z_in = zlib.decompressobj(wbits=-15)
        self.compressed_in = 0
        # Anything already buffered came in before the switch; there is none after the OK.
        assert self.buf == b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if hasattr(self, "z_out"):
            data = self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server; buffered: %r" % self.buf)
        if hasattr(self, "z_in"):
            self.compressed_in += len(chunk)
            chunk = self.z_in.decompress(chunk)
        self.buf += chunk


# ---- COMPRESS=DEFLATE ---------------------------------------------------------------

def test_compress_deflate_both_directions(tern, user):
    body = "".join("compressible line %d, the same words again and again\r\n" % i for i in range(3000))
    deliver(tern, user, message(subject="squeeze", body=body).encode())
    stored = tern.cat(user, 1)
    r = DeflateImap(tern.ports["imaps"], tls=True)
    r.login(user, PW)
    lines, t = r.cmd("CAPABILITY")
    assert b"COMPRESS=DEFLATE" in lines[0]
    _, t = r.cmd("COMPRESS DEFLATE")
    assert t == b"t3 OK DEFLATE active"
    r.start()
    lines, t = r.cmd("CAPABILITY")
    assert t.startswith(b"t4 OK") and b"COMPRESS=DEFLATE" not in lines[0]
    r.cmd("SELECT INBOX")
    lines, t = r.cmd("FETCH 1 BODY.PEEK[]")
    assert t.startswith(b"t6 OK")
    assert lines[0].split(b"\r\n", 1)[1][:-1] == stored
    # The bulk really travelled compressed.
    assert r.compressed_in < len(stored) / 4
    # Two streamed parts and an item after them in one response: all in order.
    lines, t = r.cmd("FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT] UID)")
    assert t.startswith(b"t7 OK") and lines[0].endswith(b" UID 1)"), lines[0][-40:]
    assert literal_of(lines[0], b"BODY[]") == stored
    assert literal_of(lines[0], b"BODY[TEXT]") == stored[stored.index(b"\r\n\r\n") + 4:]
    _, t = r.cmd("COMPRESS DEFLATE")
    assert t.startswith(b"t8 NO [COMPRESSIONACTIVE]")
    # Upload: a 600 KB message that deflates to a few KB, so one small
    # compressed read inflates to far more than one buffer's worth.
    big = b"Subject: upload\r\n\r\n" + b"all the same line over and over again\r\n" * 16000
    r.send(b"a1 APPEND INBOX {%d+}\r\n%s\r\n" % (len(big), big))
    _, t = r.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID"), t
    assert tern.cat(user, 2) == big
    _, t = r.cmd("LOGOUT")
    assert t.startswith(b"t9 OK")
    r.close()


def test_compress_unknown_mechanism_and_before_login(tern, user):
    r = RawImap(tern.ports["imaps"], tls=True)
    _, t = r.cmd("COMPRESS DEFLATE")
    assert t.startswith(b"t1 BAD")      # not in the not-authenticated state
    r.login(user, PW)
    _, t = r.cmd("COMPRESS LZW")
    assert t.startswith(b"t3 BAD")
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t4 OK")
    r.close()


# ---- QUOTA --------------------------------------------------------------------------

def test_quota_enforced_on_append_copy_and_delivery(tern, user):
    tern.cli("user", "quota", user, "--messages", "2")
    deliver(tern, user, message(subject="one").encode())
    r = raw(tern, user)
    lines, t = r.cmd('GETQUOTA ""')
    assert lines == [b'* QUOTA "" (MESSAGE 1 2)'], lines
    msg = b"Subject: two\r\n\r\nsecond\r\n"
    r.send(b"a1 APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    _, t = r.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID")
    r.send(b"a2 APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    _, t = r.until("a2")
    assert t.startswith(b"a2 NO [OVERQUOTA]"), t
    r.cmd("SELECT INBOX")
    _, t = r.cmd("COPY 1 Archive")
    assert t.startswith(b"t4 NO [OVERQUOTA]"), t
    # SMTP: a full mailbox is a temporary refusal at RCPT; nothing is stored.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        deliver(tern, user, message(subject="three").encode())
    assert e.value.recipients[user][0] == 452
    assert len(tern.messages(user)) == 2
    # Freeing room lets mail in again.
    r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, t = r.cmd("EXPUNGE")
    assert t.startswith(b"t6 OK")
    deliver(tern, user, message(subject="four").encode())
    assert len(tern.messages(user)) == 2
    r.close()


# ---- FETCH sections on nested MIME -----------------------------------------------------

NESTED = (
    b"From: Ann <ann@remote.example>\r\n"
    b"To: bob@example.test\r\n"
    b"Subject: nested\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"first part\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"X-Inner: yes\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"inner plain\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"PGI+aGk8L2I+\r\n"
    b"--inner--\r\n"
    b"--outer--\r\n"
)


def fetch_one(r, what):
    lines, t = r.cmd("FETCH 1 (%s)" % what)
    assert b" OK " in t, t
    return b"\r\n".join(lines)


def literal_of(resp, name):
    """The literal after `name {n}` in a FETCH response (names compared without case)."""
    assert name.lower() + b" {" in resp.lower(), resp
    i = resp.lower().index(name.lower() + b" {")
    j = resp.index(b"}\r\n", i)
    n = int(resp[i + len(name) + 2:j])
    return resp[j + 3:j + 3 + n]


def test_fetch_every_section_form_on_nested_mime(tern, user):
    deliver(tern, user, NESTED)
    stored = tern.cat(user, 1)
    hdr_end = stored.index(b"\r\n\r\n") + 4
    r = raw(tern, user)
    r.cmd("EXAMINE INBOX")
    assert literal_of(fetch_one(r, "BODY.PEEK[HEADER.FIELDS.NOT (To From MIME-Version Content-Type "
                                   "Return-Path Received)]"), b"BODY[HEADER.FIELDS.NOT (TO FROM MIME-VERSION "
                                                              b"CONTENT-TYPE RETURN-PATH RECEIVED)]") \
        == b"Subject: nested\r\n\r\n"
    assert literal_of(fetch_one(r, "RFC822.TEXT"), b"RFC822.TEXT") == stored[hdr_end:]
    assert literal_of(fetch_one(r, "BODY.PEEK[1]"), b"BODY[1]") == b"first part"
    assert literal_of(fetch_one(r, "BODY.PEEK[1.MIME]"), b"BODY[1.MIME]") == \
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    assert literal_of(fetch_one(r, "BODY.PEEK[2.HEADER.FIELDS (X-Inner)]"), b"BODY[2.HEADER.FIELDS (X-INNER)]") \
        == b"X-Inner: yes\r\n\r\n"
    assert literal_of(fetch_one(r, "BODY.PEEK[2.1]"), b"BODY[2.1]") == b"inner plain"
    assert literal_of(fetch_one(r, "BODY.PEEK[2.2]"), b"BODY[2.2]") == b"PGI+aGk8L2I+"
    assert literal_of(fetch_one(r, "BINARY.PEEK[2.2]"), b"BINARY[2.2]") == b"<b>hi</b>"
    assert b"BINARY.SIZE[2.2] 9" in fetch_one(r, "BINARY.SIZE[2.2]")
    assert literal_of(fetch_one(r, "BODY.PEEK[2.2]<4.4>"), b"BODY[2.2]<4>") == b"aGk8"
    # BODY[n] past the parts is empty, not an error (RFC 9051 §6.4.5).
    assert re.search(rb'BODY\[9\] (""|NIL|\{0\}\r\n)\)', fetch_one(r, "BODY.PEEK[9]"))
    bs = fetch_one(r, "BODYSTRUCTURE")
    assert re.search(rb'\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 10 \d', bs, re.I), bs
    assert re.search(rb'"message" "rfc822"', bs, re.I) and re.search(rb'"alternative"', bs, re.I), bs
    env = fetch_one(r, "ENVELOPE")
    assert b'"nested" (("Ann" NIL "ann" "remote.example"))' in env, env
    # EXAMINE: nothing above set \Seen.
    assert b"\\Seen" not in fetch_one(r, "FLAGS")
    r.close()


# ---- BINARY APPEND and NUL --------------------------------------------------------------

def test_append_literal8_nul_stored_base64_and_plain_literal_refuses_it(tern, user):
    r = raw(tern, user)
    msg = b"Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\nzero\x00byte\r\n"
    r.send(b"a1 APPEND INBOX ~{%d+}\r\n%s\r\n" % (len(msg), msg))
    _, t = r.until("a1")
    assert t.startswith(b"a1 OK [APPENDUID"), t
    # stored with the NUL part base64-encoded (issue 13: BODY[] never carries NUL); BINARY[] gives it back
    assert tern.cat(user, 1) == b"Subject: bin\r\nContent-Transfer-Encoding: base64\r\n\r\nemVybwBieXRlDQo=\r\n"
    r.send(b"a3 EXAMINE INBOX\r\na4 FETCH 1 BINARY.PEEK[1]\r\n")
    lines, _ = r.until("a4")
    assert b"* 1 FETCH (BINARY[1] ~{11}\r\nzero\x00byte\r\n)" in lines, lines
    r.send(b"a2 APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    _, t = r.until("a2")
    assert t.startswith(b"a2 NO"), t
    assert len(tern.messages(user)) == 1
    r.close()


# ---- SEARCH decoding ---------------------------------------------------------------------

def test_search_decodes_encoded_words_and_transfer_encodings(tern, user):
    deliver(tern, user, b"From: a@remote.example\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
                        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6ne Stra=DFe\r\n")
    deliver(tern, user, b"From: b@remote.example\r\nSubject: =?UTF-8?B?0J/RgNC40LLQtdGC?=\r\n"
                        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Transfer-Encoding: base64\r\n\r\n0KHQvtC+0LHRidC10L3QuNC1\r\n")
    r = raw(tern, user)
    r.cmd("SELECT INBOX")

    def search(key):
        # 8-bit text travels in a literal (a quoted string is 7-bit without UTF8=ACCEPT).
        key = re.sub(rb'"([^"]*[\x80-\xff][^"]*)"', lambda m: b"{%d+}\r\n%s" % (len(m.group(1)), m.group(1)), key)
        r.send(b"s SEARCH CHARSET UTF-8 " + key + b"\r\n")
        lines, t = r.until("s")
        assert t.startswith(b"s OK"), t
        return lines

    assert search(b'SUBJECT "k\xc3\xb6ln"') == [b"* SEARCH 1"]
    assert search(b'BODY "SCH\xc3\x96NE"') == [b"* SEARCH 1"]
    assert search(b'SUBJECT "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"') == [b"* SEARCH 2"]   # lower case
    assert search(b'TEXT "\xd0\xa1\xd0\xbe\xd0\xbe\xd0\xb1\xd1\x89"') == [b"* SEARCH 2"]
    assert search(b'HEADER From b@remote') == [b"* SEARCH 2"]
    assert search(b"LARGER 1 SMALLER 100000 NOT KEYWORD $x") == [b"* SEARCH 1 2"]
    r.close()


# ---- CHECK, ID ---------------------------------------------------------------------------

def test_check_id_and_empty_results(tern, user):
    r = RawImap(tern.ports["imaps"], tls=True)
    lines, t = r.cmd("ID NIL")
    assert lines == [b'* ID ("name" "tern")'] and t.startswith(b"t1 OK")
    r.login(user, PW)
    lines, t = r.cmd('ID ("name" "pytest" "version" "1")')
    assert t.startswith(b"t3 OK") and lines[0].startswith(b'* ID ("name" "tern" "version" '), lines
    _, t = r.cmd("CHECK")
    assert t.startswith(b"t4 BAD")      # only in the selected state
    r.cmd("SELECT INBOX")
    _, t = r.cmd("CHECK")
    assert t.startswith(b"t6 OK")
    # Nothing to expunge, nothing found: plain OKs (once undefined behaviour under UBSan).
    lines, t = r.cmd("EXPUNGE")
    assert lines == [] and t.startswith(b"t7 OK")
    lines, t = r.cmd("SEARCH SUBJECT nothing-like-this")
    assert lines == [b"* SEARCH"] and t.startswith(b"t8 OK")
    _, t = r.cmd("CLOSE")
    assert t.startswith(b"t9 OK")
    r.close()


# ---- hostile input ------------------------------------------------------------------------

def test_hostile_sequence_sets_and_lines(tern, user):
    for i in range(3):
        deliver(tern, user, message(subject="h%d" % i).encode())
    r = raw(tern, user)
    r.cmd("SELECT INBOX")
    # A sequence set of tens of thousands of ranges, under the line limit.
    big = "3," + ",".join("%d:%d" % (i, i + 1) for i in range(1, 60000, 7))[:60000].rsplit(",", 1)[0]
    lines, t = r.cmd("UID FETCH %s (FLAGS)" % big)
    assert t.startswith(b"t3 OK") and len(lines) == 3
    lines, t = r.cmd("UID SEARCH UID 1:4294967295,4294967295:1")
    assert lines == [b"* SEARCH 1 2 3"] and t.startswith(b"t4 OK")
    _, t = r.cmd("UID STORE 4294967295 +FLAGS (\\Seen)")
    assert t.startswith(b"t5 OK")
    _, t = r.cmd("UID FETCH 99999999999 FLAGS")
    assert t.startswith(b"t6 BAD")
    # A line over the limit: refused, and the session carries on.
    r.send(b"long NOOP " + b"x" * 70000 + b"\r\n")
    line = r.line()
    assert line.startswith(b"* BAD") or line.startswith(b"long BAD"), line
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t7 OK")
    # A literal of absurd size outside APPEND: refused without being read.
    r.send(b"lit LOGIN {99999999999999999999}\r\n")
    _, t = r.until("lit")
    assert t.startswith(b"lit BAD") or t.startswith(b"lit NO"), t
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t8 OK")
    # Deep nesting in SEARCH is bounded.
    _, t = r.cmd("SEARCH " + "NOT " * 5000 + "ALL")
    assert t.startswith(b"t9 OK") or t.startswith(b"t9 BAD")
    _, t = r.cmd("SEARCH " + "(" * 3000 + "ALL" + ")" * 3000)
    assert t.startswith(b"t10 OK") or t.startswith(b"t10 BAD")
    _, t = r.cmd("NOOP")
    assert t.startswith(b"t11 OK")
    r.close()


def test_quota_storage_refuses_declared_size_at_rcpt(tern, user):
    tern.cli("user", "quota", user, "--storage", "10K")
    r = tern.raw()
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.example> SIZE=20000")[0] == 250
    code, text = r.cmd("RCPT TO:<%s>" % user)
    assert code == 452 and "4.2.2" in text, text
    r.cmd("RSET")
    # A message that fits is taken; the one that would cross the limit is not.
    assert r.cmd("MAIL FROM:<sender@remote.example> SIZE=2000")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % user)[0] == 250
    r.close()
    deliver(tern, user, message(subject="fits", body=("x" * 60 + "\r\n") * 100).encode())
    # smtplib declares SIZE itself: refused at RCPT.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        deliver(tern, user, message(subject="over", body=("y" * 60 + "\r\n") * 100).encode())
    # Without SIZE the RCPT passes; the store refuses at the end of DATA, nothing is kept.
    r = tern.raw()
    r.cmd("EHLO client.example.net")
    assert r.cmd("MAIL FROM:<sender@remote.example>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % user)[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd(message(subject="undeclared", body=("z" * 60 + "\r\n") * 100) + ".")
    assert code == 452 and "4.2.2" in text, text
    r.close()
    assert len(tern.messages(user)) == 1


# ---- \Recent (IMAP4rev1) ------------------------------------------------------------------

def recent_of(lines):
    return [int(l.split()[1]) for l in lines if l.endswith(b" RECENT")]


def test_recent_goes_to_the_first_session_only(tern, user):
    for i in range(2):
        deliver(tern, user, message(subject="r%d" % i).encode())
    a, b = raw(tern, user), raw(tern, user)
    lines, _ = b.cmd("STATUS INBOX (RECENT MESSAGES)")
    assert lines == [b'* STATUS "INBOX" (MESSAGES 2 RECENT 2)'], lines
    lines, _ = a.cmd("SELECT INBOX")
    assert recent_of(lines) == [2]
    lines, _ = a.cmd("FETCH 1:* FLAGS")
    assert lines == [b"* 1 FETCH (FLAGS (\\Recent))", b"* 2 FETCH (FLAGS (\\Recent))"]
    lines, _ = b.cmd("SELECT INBOX")
    assert recent_of(lines) == [0]
    assert b.cmd("FETCH 1 FLAGS")[0] == [b"* 1 FETCH (FLAGS ())"]
    # New mail: the first session to hear of it gets it as \Recent.
    deliver(tern, user, message(subject="r2").encode())
    lines, _ = a.cmd("NOOP")
    assert b"* 3 EXISTS" in lines and recent_of(lines) == [3], lines
    lines, _ = b.cmd("NOOP")
    assert b"* 3 EXISTS" in lines and recent_of(lines) == [0], lines
    a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert a.cmd("SEARCH RECENT")[0] == [b"* SEARCH 1 2 3"]
    assert a.cmd("SEARCH NEW")[0] == [b"* SEARCH 2 3"]
    assert b.cmd("NOOP")[0] == [b"* 1 FETCH (FLAGS (\\Seen))"]     # a's change, without a's \Recent
    assert b.cmd("SEARCH RECENT")[0] == [b"* SEARCH"]
    assert b.cmd("SEARCH OLD")[0] == [b"* SEARCH 1 2 3"]
    # A client replacing FLAGS with what it was shown sends \Recent back: ignored.
    _, t = a.cmd("STORE 2 FLAGS (\\Recent \\Flagged)")
    assert b" OK " in t, t
    # An APPEND elsewhere is recent for whoever selects that mailbox next;
    # EXAMINE looks without taking it.
    msg = b"Subject: filed\r\n\r\nbody\r\n"
    b.send(b"ap APPEND Archive {%d+}\r\n%s\r\n" % (len(msg), msg))
    b.until("ap")
    assert b.cmd("STATUS Archive (RECENT)")[0] == [b'* STATUS "Archive" (RECENT 1)']
    lines, _ = b.cmd("EXAMINE Archive")
    assert recent_of(lines) == [1]
    lines, _ = a.cmd("SELECT Archive")
    assert recent_of(lines) == [1]
    assert b.cmd("STATUS Archive (RECENT)")[0] == [b'* STATUS "Archive" (RECENT 0)']
    # IMAP4rev2 has no \Recent at all.
    c = raw(tern, user)
    c.cmd("ENABLE IMAP4rev2")
    deliver(tern, user, message(subject="r3").encode())
    lines, _ = c.cmd("SELECT INBOX")
    assert recent_of(lines) == [] and b"RECENT" not in b"".join(lines)
    assert c.cmd("FETCH 4 FLAGS")[0] == [b"* 4 FETCH (FLAGS ())"]
    for r in (a, b, c):
        r.close()


def test_unreadable_message_file_is_nil_and_serverbug(tern, user):
    """A message file gone from disk under the index: the client gets NIL and a
    NO [SERVERBUG], never invented content it would cache; index data still
    comes."""
    deliver(tern, user, message(subject="lost").encode())
    small = tern.cat(user, 1)
    for root, _, files in os.walk(os.path.join(tern.data_dir, "blobs")):
        for f in files:
            os.unlink(os.path.join(root, f))
    r = raw(tern, user)
    r.cmd("EXAMINE INBOX")
    lines, t = r.cmd("FETCH 1 (FLAGS BODY.PEEK[])")
    assert t.startswith(b"t3 NO [SERVERBUG]"), t
    assert lines == [b"* 1 FETCH (FLAGS (\\Recent) BODY[] NIL)"] or lines == [b"* 1 FETCH (FLAGS () BODY[] NIL)"], lines
    lines, t = r.cmd("FETCH 1 (RFC822.SIZE ENVELOPE)")
    assert t.startswith(b"t4 OK") and b"RFC822.SIZE %d" % len(small) in lines[0]
    r.close()


def test_fetch_of_many_sections_keeps_no_descriptors(tern, user):
    """A byte range and a decoded part of the same message in one FETCH used
    to open its file twice and close it once: one descriptor lost per message."""
    for i in range(40):
        deliver(tern, user, message(subject="fd %d" % i).encode())
    fds = lambda: len(os.listdir("/proc/%d/fd" % tern.proc.pid))
    r = raw(tern, user)
    r.cmd("EXAMINE INBOX")
    r.cmd("FETCH 1 (BODY.PEEK[] BINARY.PEEK[1])")
    before = fds()
    _, t = r.cmd("FETCH 1:* (BODY.PEEK[] BINARY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert t.startswith(b"t4 OK"), t
    assert fds() <= before + 2, (before, fds())
    r.close()


def test_compressed_overlong_line_then_next_command(tern, user):
    """An overlong line inside one compressed burst: refused, and the command
    after it in the same burst still answered."""
    r = DeflateImap(tern.ports["imaps"], tls=True)
    r.login(user, PW)
    _, t = r.cmd("COMPRESS DEFLATE")
    assert t.startswith(b"t2 OK")
    r.start()
    r.send(b"x1 NOOP " + b"A" * 2_000_000 + b"\r\nx2 NOOP\r\n")
    lines, t = r.until("x2")
    assert t.startswith(b"x2 OK"), t
    assert any(l.startswith(b"* BAD") or l.startswith(b"x1 BAD") for l in lines), lines
    r.close()


def test_fetch_resumes_exactly_where_output_backed_up(tern, user):
    """Some 4.5 MB of bodies to a client that does not read at first: the
    job stops when output backs up (also inside a batch) and resumes; each
    message comes exactly once, in order, whole."""
    line = "padding to make the message large enough to matter\r\n"
    with tern.smtp() as s:
        for i in range(150):
            s.sendmail("sender@remote.example", [user],
                       message(subject="bulk %d" % i, body=line * 600).encode())
    r = raw(tern, user)
    r.cmd("EXAMINE INBOX")
    r.send(b"f FETCH 1:* (BODY.PEEK[] UID)\r\n")
    time.sleep(1.0)
    lines, t = r.until("f")
    assert t.startswith(b"f OK"), t
    seqs = [int(l.split()[1]) for l in lines if l.startswith(b"* ")]
    assert seqs == list(range(1, 151)), seqs[:10]
    for i, l in enumerate(lines):
        assert l.endswith(b" UID %d)" % (i + 1))
        assert l.count(line.encode()) == 600
    r.close()


def flags_announced(lines):
    """The keywords of every "* FLAGS (...)" among lines, in order, with the index of each."""
    out = []
    for i, l in enumerate(lines):
        m = re.match(rb"\* FLAGS \(([^)]*)\)", l)
        if m:
            out.append((i, set(m.group(1).split())))
    return out


def announced_first(r, command, seq, keyword):
    """command's FETCH of message seq shows keyword, and a FLAGS naming it came before."""
    lines, t = r.cmd(command)
    assert b" OK " in t, t
    fetch = [i for i, l in enumerate(lines)
             if l.startswith(b"* %d FETCH (" % seq) and keyword in l]
    assert fetch, lines
    assert [i for i, kw in flags_announced(lines) if keyword in kw and i < fetch[0]], lines


def test_keyword_set_elsewhere_is_announced_before_a_fetch_or_store_shows_it(tern, user):
    """Another session's new keyword: FETCH FLAGS and STORE's FETCH replies
    carry it only after a FLAGS response naming it (imaptest's stress mode
    counts anything else as an error: "Keyword used without being in FLAGS")."""
    deliver(tern, user, message(subject="one"))
    deliver(tern, user, message(subject="two"))
    a, b = raw(tern, user), raw(tern, user)
    for r in (a, b):
        _, t = r.cmd("SELECT INBOX")
        assert b" OK " in t, t
    _, t = b.cmd("STORE 1 +FLAGS ($Fresh1)")
    assert b" OK " in t, t
    announced_first(a, "FETCH 1 (FLAGS)", 1, b"$Fresh1")
    # the same for the FETCH replies of one's own STORE
    _, t = b.cmd("STORE 2 +FLAGS ($Fresh2)")
    assert b" OK " in t, t
    announced_first(a, "STORE 2 +FLAGS (\\Seen)", 2, b"$Fresh2")
    # a keyword already announced is not announced again
    lines, t = a.cmd("FETCH 1:2 (FLAGS)")
    assert b" OK " in t and not flags_announced(lines), lines
