r"""
URLAUTH (RFC 4467, issue 13): GENURLAUTH makes a URL of one's own message
fetchable with URLFETCH by whom its access identifier names (user+NAME,
authuser, anonymous), the INTERNAL token being an HMAC under the
mailbox's key; RESETKEY forgets the key, and every URL made with it then
fetches NIL.  A URL that does not check out (tampered token, another
user, an expired one, a rump) fetches NIL, never an error that tells why.
"""
import re

from test_imap_multiappend import _counter, rest, session, user  # noqa: F401 (user: a fixture)

MSG = "From: a@example.test\r\nSubject: shared\r\n\r\nthe body\r\n"


def setup_message(tern, addr):
    r = session(tern, addr)
    _, t = r.cmd("APPEND INBOX {%d+}\r\n%s" % (len(MSG), MSG))
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", t).group(1))
    return r, uid


def gen(r, url):
    lines, t = r.cmd('GENURLAUTH "%s" INTERNAL' % url)
    assert rest(t) == b"OK GENURLAUTH completed", t
    m = re.match(rb'\* GENURLAUTH "([^"]+)"$', lines[0])
    assert m, lines
    return m.group(1).decode()


def fetch(r, url):
    lines, t = r.cmd('URLFETCH "%s"' % url)
    assert rest(t) == b"OK URLFETCH completed", t
    assert len(lines) == 1, lines
    prefix = b'* URLFETCH "%s" ' % url.encode()
    assert lines[0].startswith(prefix), lines
    v = lines[0][len(prefix):]
    if v == b"NIL":
        return None
    m = re.match(rb"\{(\d+)\}\r\n", v)
    return v[m.end():m.end() + int(m.group(1))].decode()


def test_genurlauth_urlfetch_resetkey(tern, user):
    r, uid = setup_message(tern, user)
    local, domain = user.split("@")
    url = gen(r, "imap://%s@%s/INBOX/;uid=%d;urlauth=user+%s" % (local, domain, uid, user))
    assert re.fullmatch(r"imap://%s@%s/INBOX/;uid=%d;urlauth=user\+%s:internal:[0-9a-f]{40}"
                        % (local, domain, uid, re.escape(user)), url), url
    part = gen(r, "imap://%s@%s/INBOX/;uid=%d/;section=TEXT;urlauth=authuser" % (local, domain, uid))
    assert fetch(r, url) == MSG
    # another session of the same user; authuser: any logged-in user
    other = "urlother%d@example.test" % next(_counter)
    tern.add_user(other)
    r2 = session(tern, other)
    assert fetch(r2, part) == "the body\r\n"
    assert fetch(r2, url) is None           # user+ names someone else
    # tampering: another token, another uid, the rump alone
    bad = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert fetch(r, bad) is None
    assert fetch(r, url.replace(";uid=%d;" % uid, ";uid=%d;" % (uid + 1))) is None
    assert fetch(r, url.split(":internal:")[0]) is None
    # RESETKEY: every URL of the mailbox stops working, a new one works
    _, t = r.cmd("RESETKEY INBOX")
    assert rest(t) == b"OK RESETKEY completed", t
    assert fetch(r, url) is None
    assert fetch(r2, part) is None
    url2 = gen(r, "imap://%s@%s/INBOX/;uid=%d;urlauth=anonymous" % (local, domain, uid))
    assert url2 != url
    assert fetch(r2, url2) == MSG
    _, t = r.cmd("RESETKEY")
    assert rest(t) == b"OK RESETKEY completed", t
    assert fetch(r2, url2) is None


def test_genurlauth_refusals(tern, user):
    r, uid = setup_message(tern, user)
    local, domain = user.split("@")
    base = "imap://%s@%s/INBOX/;uid=%d" % (local, domain, uid)
    for url, why in [
        (base, b"NO [BADURL] URL without ;URLAUTH="),
        (base + ";urlauth=anonymous:internal:" + "0" * 40, b"NO [BADURL] URL is not a rump"),
        ("imap://someone@%s/INBOX/;uid=%d;urlauth=anonymous" % (domain, uid),
         b"NO [BADURL] Not a URL of one of your mailboxes"),
        (base.replace("/INBOX/", "/Nowhere/") + ";urlauth=anonymous", b"NO [BADURL] Not a URL of one of your mailboxes"),
        ("/INBOX/;uid=%d;urlauth=anonymous" % uid, b"NO [BADURL] Not a URL of one of your mailboxes"),
        (base + ";urlauth=nobody", b"NO [BADURL] Invalid URLAUTH access identifier"),
    ]:
        _, t = r.cmd('GENURLAUTH "%s" INTERNAL' % url)
        assert rest(t) == why, (url, t)
    _, t = r.cmd('GENURLAUTH "%s;urlauth=anonymous" XSECRET' % base)
    assert rest(t) == b"NO Unsupported URLAUTH mechanism", t
    _, t = r.cmd("RESETKEY Nowhere")
    assert rest(t).startswith(b"NO [NONEXISTENT]"), t
    # expired: a date in the past fetches NIL
    url = gen(r, base + ";expire=2001-01-01T00:00:00Z;urlauth=authuser")
    assert fetch(r, url) is None
    url = gen(r, base + ";expire=2999-01-01T00:00:00+02:00;urlauth=authuser")
    assert fetch(r, url) == MSG
    # junk to URLFETCH: NIL, and the session goes on
    assert fetch(r, "imap://%zz") is None
    _, t = r.cmd("NOOP")
    assert rest(t).startswith(b"OK"), t
