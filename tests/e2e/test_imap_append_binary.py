r"""
APPEND of a literal8 (RFC 3516, issue 13) whose content has NUL octets:
the parts holding them are stored base64-encoded (as Dovecot does), so
BODY[] never carries NUL in a plain literal while BINARY[] and
BINARY.SIZE[] give back the very octets sent.  NUL where no encoding can
go (a header) is NO [UNKNOWN-CTE] and nothing is stored; NUL in a plain
literal stays NO [CANNOT].  Checked in a second session.
"""
import re

from test_imap_multiappend import _counter, rest, session, spool_files, user  # noqa: F401 (user: a fixture)

BIN = b"\x00-\xe4\r\n\r\n"
MSG = (b"From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: binary\r\n\r\n" + BIN)


def append8(r, data):
    tag = r.tag()
    r.send(b"%s APPEND INBOX ~{%d+}\r\n%s\r\n" % (tag.encode(), len(data), data))
    return r.until(tag)


def test_nul_part_stored_base64(tern, user):
    r = session(tern, user)
    _, t = append8(r, MSG)
    assert re.match(rb"OK \[APPENDUID \d+ 1\] APPEND completed", rest(t)), t
    r2 = session(tern, user)
    r2.cmd("EXAMINE INBOX")
    lines, _ = r2.cmd("FETCH 1 (BODY.PEEK[1])")
    assert lines == [b"* 1 FETCH (BODY[1] {14}\r\nAC3kDQoNCg==\r\n)"], lines
    lines, _ = r2.cmd("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])")
    assert lines == [b"* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n" + BIN + b")"], lines
    lines, _ = r2.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (CONTENT-TRANSFER-ENCODING)] RFC822.SIZE)")
    assert b"Content-Transfer-Encoding: base64" in lines[0], lines
    lines, _ = r2.cmd("FETCH 1 BODY.PEEK[]")
    assert b"\x00" not in lines[0]


def test_multipart_only_the_nul_part(tern, user):
    r = session(tern, user)
    msg = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"gr\xc3\xbc\xc3\x9fe\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n--b--\r\n")
    _, t = append8(r, msg)
    assert rest(t).startswith(b"OK [APPENDUID"), t
    r2 = session(tern, user)
    r2.cmd("EXAMINE INBOX")
    lines, _ = r2.cmd("FETCH 1 (BODY.PEEK[1] BODY.PEEK[2] BINARY.PEEK[2])")
    assert lines == [b"* 1 FETCH (BODY[1] {7}\r\ngr\xc3\xbc\xc3\x9fe BODY[2] {4}\r\nAAEC BINARY[2] ~{3}\r\n\x00\x01\x02)"], \
        lines


def test_nul_in_header_refused(tern, user):
    r = session(tern, user)
    _, t = append8(r, b"Subject: a\x00b\r\n\r\nbody\r\n")
    assert rest(t) == b"NO [UNKNOWN-CTE] NUL octets outside a body part cannot be stored", t
    lines, t = r.cmd("STATUS INBOX (MESSAGES)")
    assert lines == [b'* STATUS "INBOX" (MESSAGES 0)'], lines
    assert spool_files(tern) == []


def test_nul_in_plain_literal_refused(tern, user):
    r = session(tern, user)
    tag = r.tag()
    r.send(b"%s APPEND INBOX {%d+}\r\n%s\r\n" % (tag.encode(), len(MSG), MSG))
    _, t = r.until(tag)
    assert rest(t) == b"NO [CANNOT] NUL octet in a message; use a literal8", t
    lines, t = r.cmd("STATUS INBOX (MESSAGES)")
    assert lines == [b'* STATUS "INBOX" (MESSAGES 0)'], lines


def test_binary_without_nul_kept_exactly(tern, user):
    r = session(tern, user)
    msg = MSG.replace(b"\x00", b"\x01")
    _, t = append8(r, msg)
    assert rest(t).startswith(b"OK [APPENDUID"), t
    r2 = session(tern, user)
    r2.cmd("EXAMINE INBOX")
    lines, _ = r2.cmd("FETCH 1 BODY.PEEK[]")
    assert lines == [b"* 1 FETCH (BODY[] {%d}\r\n%s)" % (len(msg), msg)], lines
