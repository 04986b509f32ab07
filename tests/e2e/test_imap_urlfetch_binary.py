r"""
URLFETCH with BODYPARTSTRUCTURE, BINARY and BODY (URLAUTH=BINARY, RFC 5524,
issue 13): each item comes back as its own parenthesised list; BINARY is
the part with its content-transfer-encoding undone (for a container, each
leaf decoded and relabelled "binary"), in a literal8 when it holds a NUL,
NIL when the encoding cannot be undone; with BINARY, BODYPARTSTRUCTURE
describes the converted data.  Bad parameter lists are BAD.
"""
import base64
import re

from test_imap_multiappend import rest, session, user  # noqa: F401 (user: a fixture)
from test_imap_urlauth import gen

INNER = ("From: sub@example.test\r\nSubject: inner\r\n"
         "Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\n"
         "prologue\r\n--sub1\r\nContent-Type: text/plain; charset=us-ascii\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8gd29y\r\nbGQ=\r\n"
         "--sub1\r\nContent-Type: text/plain; charset=us-ascii\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n"
         "--sub1--\r\nepilogue\r\n")
NUL_DATA = b"a\x00b\xffc"
MSG = ("From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"top\"\r\n\r\n"
       "--top\r\nContent-Type: message/rfc822\r\n\r\n" + INNER +
       "--top\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
       base64.b64encode(NUL_DATA).decode() + "\r\n"
       "--top\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
       "begin 644 f\r\n#86)C\r\n`\r\nend\r\n"
       "--top--\r\n")
# What BINARY of part 1 (the message/rfc822) is: INNER, its leaves decoded,
# without the last line break (that one belongs to the boundary after it).
INNER_BINARY = (INNER[:-2].replace("Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8gd29y\r\nbGQ=",
                              "Content-Transfer-Encoding: binary\r\n\r\nhello world")
                .replace("Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait",
                         "Content-Transfer-Encoding: binary\r\n\r\ncafé au lait"))


def store_message(tern, addr):
    r = session(tern, addr)
    data = MSG.encode()
    _, t = r.cmd("APPEND INBOX {%d+}\r\n%s" % (len(data), MSG))
    assert b"OK" in t, t
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", t).group(1))
    local, domain = addr.split("@")
    base = "imap://%s@%s/INBOX/;uid=%d" % (local, domain, uid)
    return r, base


def url_of(r, base, section=None, extra=""):
    sec = "/;section=%s" % section if section else ""
    return gen(r, "%s%s%s;urlauth=authuser" % (base, sec, extra))


def urlfetch(r, arg):
    """One URLFETCH; the text of its one untagged reply after the URL."""
    lines, t = r.cmd("URLFETCH %s" % arg)
    assert rest(t) == b"OK URLFETCH completed", t
    assert len(lines) == 1, lines
    m = re.match(rb'\* URLFETCH "[^"]+" ', lines[0])
    assert m, lines
    return lines[0][m.end():]


def literal(v, prefix):
    """The octets of a literal (or literal8) that follows prefix at the start of v; and what follows."""
    m = re.match(re.escape(prefix) + rb"(~?)\{(\d+)\}\r\n", v)
    assert m, v[:200]
    start = m.end()
    n = int(m.group(2))
    return m.group(1) == b"~", v[start:start + n], v[start + n:]


def test_capability(tern, user):
    r = session(tern, user)
    lines, _ = r.cmd("CAPABILITY")
    assert b" URLAUTH=BINARY" in lines[0], lines


def test_binary_of_a_leaf_and_of_a_message_part(tern, user):
    r, base = store_message(tern, user)
    leaf = url_of(r, base, "1.1")
    # plain URLFETCH and BODY: the octets as stored
    assert urlfetch(r, '"%s"' % leaf) == b"{20}\r\naGVs\r\nbG8gd29y\r\nbGQ="
    wide, body, tail = literal(urlfetch(r, '("%s" BODY)' % leaf), b"(BODY ")
    assert (wide, body, tail) == (False, b"aGVs\r\nbG8gd29y\r\nbGQ=", b")")
    wide, data, tail = literal(urlfetch(r, '("%s" BINARY)' % leaf), b"(BINARY ")
    assert (wide, data, tail) == (False, b"hello world", b")")
    qp = url_of(r, base, "1.2")
    _, data, _ = literal(urlfetch(r, '("%s" binary)' % qp), b"(BINARY ")
    assert data == "café au lait".encode()
    # a message/rfc822 part: the embedded message with each leaf decoded
    part = url_of(r, base, "1")
    _, data, tail = literal(urlfetch(r, '("%s" BINARY)' % part), b"(BINARY ")
    assert data == INNER_BINARY.encode(), data
    assert tail == b")"
    # partial applies to what BINARY returns
    part6 = url_of(r, base, "1.1", "/;partial=6.5")
    _, data, _ = literal(urlfetch(r, '("%s" BINARY)' % part6), b"(BINARY ")
    assert data == b"world"


def test_bodypartstructure_alone_and_with_binary(tern, user):
    r, base = store_message(tern, user)
    leaf = url_of(r, base, "1.1")
    v = urlfetch(r, '("%s" BODYPARTSTRUCTURE)' % leaf)
    assert v == (b'(BODYPARTSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "base64" 20 2'
                 b' NIL NIL NIL NIL))'), v
    # with BINARY: two lists, in that order whatever the order asked; the
    # structure describes the decoded data
    v = urlfetch(r, '("%s" BINARY BODYPARTSTRUCTURE)' % leaf)
    want = (b'(BODYPARTSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "binary" 11 0'
            b' NIL NIL NIL NIL)) ')
    assert v.startswith(want), v
    _, data, tail = literal(v[len(want):], b"(BINARY ")
    assert (data, tail) == (b"hello world", b")")
    part = url_of(r, base, "1")
    v = urlfetch(r, '("%s" BODYPARTSTRUCTURE BINARY)' % part)
    m = re.match(rb'\(BODYPARTSTRUCTURE \("message" "rfc822" NIL NIL NIL "7BIT" (\d+) ', v)
    assert m, v
    assert int(m.group(1)) == len(INNER_BINARY.encode())
    assert b'"binary" 11 0' in v and b'"binary" 13 0' in v and b"base64" not in v.split(b"(BINARY")[0]


def test_nul_in_binary_needs_a_literal8_and_unknown_encodings_are_nil(tern, user):
    r, base = store_message(tern, user)
    bin_part = url_of(r, base, "2")
    wide, data, tail = literal(urlfetch(r, '("%s" BINARY)' % bin_part), b"(BINARY ")
    assert (wide, data, tail) == (True, NUL_DATA, b")")
    uu = url_of(r, base, "3")
    v = urlfetch(r, '("%s" BINARY BODYPARTSTRUCTURE)' % uu)
    assert v.startswith(b'(BODYPARTSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "x-uuencode" ')
    assert v.endswith(b") (BINARY NIL)"), v
    # BODY of the same part is what is stored
    _, body, _ = literal(urlfetch(r, '("%s" BODY)' % uu), b"(BODY ")
    assert body == b"begin 644 f\r\n#86)C\r\n`\r\nend"


def test_whole_message_and_no_parameters(tern, user):
    r, base = store_message(tern, user)
    whole = url_of(r, base)
    _, data, _ = literal(urlfetch(r, '("%s" BINARY)' % whole), b"(BINARY ")
    assert data.startswith(b"From: a@example.test\r\n")
    assert b"hello world" in data and NUL_DATA in data and b"begin 644 f" in data
    v = urlfetch(r, '("%s" BODYPARTSTRUCTURE)' % whole)
    assert v.startswith(b'(BODYPARTSTRUCTURE (("message" "rfc822" ') and b'"mixed"' in v, v
    # (url) alone: as plain URLFETCH
    assert urlfetch(r, '("%s")' % whole) == urlfetch(r, '"%s"' % whole)
    # a URL that does not check out is NIL, whatever was asked
    assert urlfetch(r, '("%s" BINARY BODYPARTSTRUCTURE)' % (whole[:-1] + ("0" if whole[-1] != "0" else "1"))) == b"NIL"
    # several URLs, each its own reply
    lines, t = r.cmd('URLFETCH ("%s" BINARY) "%s"' % (url_of(r, base, "1.1"), whole))
    assert rest(t) == b"OK URLFETCH completed" and len(lines) == 2, lines


def test_bad_parameter_lists(tern, user):
    r, base = store_message(tern, user)
    u = url_of(r, base, "1.1")
    for arg, why in [
        ('("%s" BINARY BODY)' % u, b"BAD URLFETCH BINARY and BODY exclude each other"),
        ('("%s" BINARY BINARY)' % u, b"BAD URLFETCH parameter given twice"),
        ('("%s" HEADERS)' % u, b"BAD Unknown URLFETCH parameter"),
        ('("%s" BINARY' % u, b"BAD Missing ) after URLFETCH parameters"),
        ('("%s" )' % u, b"BAD Invalid characters in command"),
        ("()", b"BAD Invalid characters in command"),
    ]:
        _, t = r.cmd("URLFETCH %s" % arg)
        assert rest(t) == why, (arg, t)
    _, t = r.cmd("NOOP")
    assert rest(t).startswith(b"OK"), t
