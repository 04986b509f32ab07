r"""
CATENATE (RFC 4469, issue 13): an APPEND message assembled from TEXT
literals and IMAP URLs (RFC 5092) naming messages or parts of them in the
user's own mailboxes, absolute or relative to the selected mailbox; with
MULTIAPPEND, all messages or none.  A URL that does not resolve (syntax,
another server, another user, a wrong UIDVALIDITY, no such message) is
NO [BADURL url] and stores nothing; the assembled message is held to
APPENDLIMIT (NO [TOOBIG]).  What a second session sees is checked.
"""
import re

import pytest

from test_imap_multiappend import _counter, messages, rest, session, spool_files, user  # noqa: F401 (user: a fixture)

SOURCE = ("From: src@example.test\r\nSubject: source\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
          "--XX\r\nContent-Type: text/plain\r\n\r\npart one\r\n--XX\r\n"
          "Content-Type: text/plain\r\n\r\npart two\r\n--XX--\r\n")
HEADER = SOURCE[:SOURCE.index("\r\n\r\n") + 4]
TEXT = SOURCE[len(HEADER):]


def lit(data):
    data = data.encode() if isinstance(data, str) else data
    return b"{%d+}\r\n" % len(data) + data


def append(r, mailbox, body):
    """APPEND with body given as bytes (literals already inlined with lit())."""
    tag = r.tag()
    r.send(b"%s APPEND %s %s\r\n" % (tag.encode(), mailbox.encode(), body))
    return r.until(tag)


def source(tern, addr):
    """The source message in INBOX: (uidvalidity, uid)."""
    r = session(tern, addr)
    _, t = append(r, "INBOX", lit(SOURCE))
    m = re.search(rb"APPENDUID (\d+) (\d+)", t)
    r.cmd("LOGOUT")
    return int(m.group(1)), int(m.group(2))


def bodies(tern, addr, mailbox):
    """The messages a second session sees in mailbox."""
    return [m[2] for m in messages(tern, addr, mailbox)]


def test_text_and_url_parts(tern, user):
    uidv, uid = source(tern, user)
    r = session(tern, user)
    assert rest(r.cmd("CREATE Out")[1]).startswith(b"OK")
    cases = [
        ("/INBOX/;UID=%d/;SECTION=HEADER" % uid, HEADER),
        ("/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=TEXT" % (uidv, uid), TEXT),
        ("/INBOX/;uid=%d/;section=1" % uid, "part one"),
        ("/INBOX/;uid=%d/;section=2.MIME" % uid, "Content-Type: text/plain\r\n\r\n"),
        ("/INBOX/;uid=%d/;partial=6.3" % uid, "src"),
        ("/INBOX/;uid=%d/;partial=100000" % uid, ""),
        ("imap://%s@mx.example.test/INBOX/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)" % (user.replace("@", "%40"), uid),
         "Subject: source\r\n\r\n"),
    ]
    expect = []
    for url, got in cases:
        _, t = append(r, "Out", b"(\\Seen) CATENATE (TEXT " + lit("X-Pre: 1\r\n") + b' URL "' + url.encode() +
                      b'" TEXT ' + lit("\r\ntail\r\n") + b")")
        assert re.match(rb"OK \[APPENDUID \d+ \d+\] APPEND completed", rest(t)), (url, t)
        expect.append("X-Pre: 1\r\n" + got + "\r\ntail\r\n")
    assert bodies(tern, user, "Out") == expect


def test_relative_url_needs_selected_mailbox(tern, user):
    _, uid = source(tern, user)
    r = session(tern, user)
    part = b'CATENATE (URL ";UID=%d/;SECTION=1" TEXT ' % uid + lit("\r\n") + b")"
    _, t = append(r, "INBOX", part)
    assert rest(t) == b"NO [BADURL ;UID=%d/;SECTION=1] Relative URL without a selected mailbox" % uid, t
    r.cmd("SELECT INBOX")
    _, t = append(r, "INBOX", b"CATENATE (TEXT " + lit("A: b\r\n\r\n") + b' URL ";UID=%d/;SECTION=1")' % uid)
    assert rest(t).startswith(b"OK [APPENDUID"), t
    assert bodies(tern, user, "INBOX")[1] == "A: b\r\n\r\npart one"


@pytest.mark.parametrize("url,why", [
    ("/INBOX;UIDVALIDITY=12345/;UID={uid}", "UIDVALIDITY does not match"),
    ("/INBOX/;UID=999", "No such message"),
    ("/Nowhere/;UID={uid}", "No such mailbox"),
    ("imap://elsewhere.example/INBOX/;UID={uid}", "URL of another server"),
    ("imap://someone%40example.test@mx.example.test/INBOX/;UID={uid}", "URL of another user"),
    ("/INBOX/;UID={uid}/;SECTION=HEADER.FIELDS", "Invalid section in URL"),
    ("/INBOX/;UID={uid}/;URLAUTH=anonymous:internal:0123", "Invalid URL"),
    ("/IN%zzBOX/;UID={uid}", "Invalid URL"),
    ("/INBOX/;UID=0", "Invalid URL"),
    ("/INBOX/;UID=99999999999", "Invalid URL"),
    ("//host/INBOX/;UID=1", "Invalid URL"),
    ("/INBOX%00x/;UID={uid}", "Invalid URL"),
    ("/" + "a" * 3000 + "/;UID={uid}", "Invalid URL"),
])
def test_bad_url_stores_nothing(tern, user, url, why):
    """Alone, and as the second message of a MULTIAPPEND whose first is fine."""
    _, uid = source(tern, user)
    url = url.replace("{uid}", str(uid))
    r = session(tern, user)
    r.cmd("CREATE Out")
    _, t = append(r, "Out", lit("A: 1\r\n\r\nfine\r\n") + b' CATENATE (TEXT ' + lit("B: 2\r\n\r\n") +
                  b" URL " + lit(url) + b")")
    shown = url[:255].replace("]", "?")
    assert rest(t) == ("NO [BADURL %s] %s" % (shown, why)).encode(), t
    assert bodies(tern, user, "Out") == []
    assert spool_files(tern) == []


def test_other_users_mail_is_out_of_reach(tern, user):
    other = "catother%d@example.test" % next(_counter)
    tern.add_user(other)
    r2 = session(tern, other)
    r2.cmd("CREATE Private")
    _, t = append(r2, "Private", lit("Subject: secret\r\n\r\nsecret\r\n"))
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", t).group(1))
    r = session(tern, user)
    _, t = append(r, "INBOX", b'CATENATE (URL "/Private/;UID=%d")' % uid)
    assert rest(t) == b"NO [BADURL /Private/;UID=%d] No such mailbox" % uid, t
    assert bodies(tern, user, "INBOX") == []


def test_nul_in_text_part(tern, user):
    r = session(tern, user)
    _, t = append(r, "INBOX", b"CATENATE (TEXT " + lit(b"A: 1\r\n\r\nnul \x00\r\n") + b")")
    assert rest(t) == b"NO [CANNOT] NUL octet in a TEXT part; use a literal8", t
    _, t = append(r, "INBOX", b"CATENATE (TEXT ~" + lit(b"A: 1\r\n\r\nnul \x00\r\n") + b")")
    assert rest(t).startswith(b"OK [APPENDUID"), t


def test_assembled_message_over_appendlimit(tern, user):
    """Each URL part fits, four of them do not (APPENDLIMIT is 1M in the tests)."""
    r = session(tern, user)
    big = "Subject: big\r\n\r\n" + "z" * 300000 + "\r\n"
    _, t = append(r, "INBOX", lit(big))
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", t).group(1))
    r.cmd("CREATE Out")
    url = b' URL "/INBOX/;UID=%d"' % uid
    _, t = append(r, "Out", b"CATENATE (" + url[1:] + url * 3 + b")")
    assert rest(t) == b"NO [TOOBIG] Message over the limit of 1048576 octets", t
    assert bodies(tern, user, "Out") == []
    _, t = append(r, "Out", b"CATENATE (" + url[1:] + url * 2 + b")")
    assert rest(t).startswith(b"OK [APPENDUID"), t
    assert bodies(tern, user, "Out") == [big * 3]


def test_trycreate_before_urls(tern, user):
    r = session(tern, user)
    _, t = append(r, "Nowhere", b'CATENATE (URL "/INBOX;UIDVALIDITY=1/;UID=1")')
    assert rest(t) == b"NO [TRYCREATE] No such mailbox", t
