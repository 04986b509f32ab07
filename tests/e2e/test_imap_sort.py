"""SORT and UID SORT (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC
5267) against a real tern over a socket: a mailbox of hostile headers (no
Date, an unparsable Date, broken and valid encoded words, groups, no From
at all), exact untagged responses, the protocol's errors, and keys taken
from the index alone (the blobs removed, SORT still answers)."""
import glob
import os

from imaputil import RawImap

# (INTERNALDATE, message): the expected orders below follow from these.
MESSAGES = [
    # 1: no Date (DATE falls back to INTERNALDATE); a list tag, Re: and (fwd) around "Hello"
    ("03-Jan-2020 10:00:00 +0000",
     "From: Zed <zed@x.test>\r\nTo: b@x.test\r\nSubject: Re: [list] Hello (fwd)\r\n\r\none\r\n"),
    # 2: an unparsable Date; encoded-word subject and display name
    ("01-Jan-2020 10:00:00 +0000",
     "From: =?utf-8?q?=C3=89mile?= <zz@y.test>\r\nDate: not a date at all\r\n"
     "Subject: =?utf-8?q?=C3=A9t=C3=A9?=\r\n\r\ntwo\r\n"),
    # 3: no From, a group in To
    ("02-Jan-2020 10:00:00 +0000",
     "To: grp: c@x.test;\r\nDate: Tue, 01 Jan 2019 00:00:00 +0000\r\nSubject: hello\r\n\r\nthree\r\n"),
    # 4: a broken encoded word stays as written
    ("04-Jan-2020 10:00:00 +0000",
     "From: <f@c.test>\r\nDate: Wed, 02 Jan 2019 00:00:00 +0000\r\nSubject: =?utf-8?b?broken\r\n\r\nfour\r\n"),
]


def append_all(r, messages):
    for date, msg in messages:
        data = msg.encode()
        r.send('%s APPEND INBOX "%s" {%d+}\r\n' % (r.tag(), date, len(data)))
        r.send(data + b"\r\n")
        _, t = r.until("t%d" % r.n)
        assert b" OK " in t, t


def session(t):
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    append_all(r, MESSAGES)
    lines, tag = r.cmd("SELECT INBOX")
    assert b" OK " in tag, tag
    return r


def sort(r, args, uid=False):
    lines, tag = r.cmd(("UID SORT " if uid else "SORT ") + args)
    assert b" OK " in tag, (args, tag)
    got = [l for l in lines if l.startswith(b"* SORT")]
    assert len(got) == 1, lines
    return got[0].decode()


def test_sort_keys(make_tern):
    t = make_tern()
    r = session(t)
    caps, _ = r.cmd("CAPABILITY")
    assert b" SORT " in caps[0] and b" SORT=DISPLAY" in caps[0] and b" ESORT" in caps[0], caps
    assert sort(r, "(ARRIVAL) UTF-8 ALL") == "* SORT 2 3 1 4"
    assert sort(r, "(DATE) UTF-8 ALL") == "* SORT 3 4 2 1"
    assert sort(r, "(REVERSE DATE) UTF-8 ALL") == "* SORT 1 2 4 3"
    # "=?UTF-8?B?BROKEN" < "ÉTÉ" (E + U+0301) < "HELLO" (1 and 3 tie: sequence order)
    assert sort(r, "(SUBJECT) UTF-8 ALL") == "* SORT 4 2 1 3"
    # ties stay in sequence order under REVERSE too
    assert sort(r, "(REVERSE SUBJECT) US-ASCII ALL") == "* SORT 1 3 2 4"
    # the first address's local part; no From sorts first
    assert sort(r, "(FROM) UTF-8 ALL") == "* SORT 3 4 1 2"
    # the decoded display name, else the addr-spec
    assert sort(r, "(DISPLAYFROM) UTF-8 ALL") == "* SORT 3 2 4 1"
    # a group sorts by its name; no To first
    assert sort(r, "(TO) UTF-8 ALL") == "* SORT 2 4 1 3"
    assert sort(r, "(DISPLAYTO) UTF-8 ALL") == "* SORT 2 4 1 3"
    assert sort(r, "(CC) UTF-8 ALL") == "* SORT 1 2 3 4"
    assert sort(r, "(SIZE ARRIVAL) UTF-8 1:*") == sort(r, "(SIZE) UTF-8 ALL")
    assert sort(r, "(REVERSE ARRIVAL) UTF-8 ALL", uid=True) == "* SORT 4 1 3 2"
    # search criteria, in UTF-8 (a literal) and matched case-insensitively
    assert sort(r, "(DATE) UTF-8 SUBJECT {3+}\r\n\u00c9T") == "* SORT 2"
    assert sort(r, "(DATE) UTF-8 OR SUBJECT hello FROM zed") == "* SORT 3 1"
    assert sort(r, "(DATE) UTF-8 SUBJECT nothing-matches") == "* SORT"


def test_esort(make_tern):
    t = make_tern()
    r = session(t)
    lines, tag = r.cmd("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
    assert b" OK " in tag, tag
    # MIN and MAX are the first and last in sort order; ALL keeps the order
    assert lines == [b'* ESEARCH (TAG "t%d") MIN 3 MAX 1 ALL 3:4,2,1 COUNT 4' % r.n], lines
    lines, tag = r.cmd("UID SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing")
    assert lines == [b'* ESEARCH (TAG "t%d") UID COUNT 0' % r.n], lines
    lines, tag = r.cmd("SORT RETURN () (ARRIVAL) UTF-8 ALL")
    assert lines == [b'* ESEARCH (TAG "t%d") ALL 2:3,1,4' % r.n], lines


def test_sort_errors(make_tern):
    t = make_tern()
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    _, tag = r.cmd("SORT (DATE) UTF-8 ALL")
    assert b" BAD " in tag, tag
    append_all(r, MESSAGES[:1])
    r.cmd("SELECT INBOX")
    for bad in ["SORT", "SORT (DATE)", "SORT (DATE) UTF-8", "SORT () UTF-8 ALL", "SORT (FOO) UTF-8 ALL",
                "SORT (REVERSE) UTF-8 ALL", "SORT DATE UTF-8 ALL", "SORT (DATE UTF-8 ALL",
                "SORT (DATE) UTF-8 NOSUCHKEY", "SORT RETURN (BOGUS) (DATE) UTF-8 ALL",
                "SORT (" + " ".join(["DATE"] * 17) + ") UTF-8 ALL"]:
        _, tag = r.cmd(bad)
        assert b" BAD " in tag, (bad, tag)
    _, tag = r.cmd("SORT (DATE) KOI9-X ALL")
    assert tag.startswith(b"t%d NO [BADCHARSET" % r.n), tag
    # still usable afterwards
    assert sort(r, "(DATE) UTF-8 ALL") == "* SORT 1"


def test_sort_reads_the_index_only(make_tern):
    t = make_tern()
    r = session(t)
    # the keys come from the index: with every blob gone SORT still answers in full
    blobs = [p for p in glob.glob(os.path.join(t.data_dir, "blobs", "*", "*")) if os.path.isfile(p)]
    assert len(blobs) == 4, blobs
    for p in blobs:
        os.unlink(p)
    assert sort(r, "(SUBJECT) UTF-8 ALL") == "* SORT 4 2 1 3"
    assert sort(r, "(DISPLAYFROM) UTF-8 ALL") == "* SORT 3 2 4 1"
    assert sort(r, "(REVERSE SIZE ARRIVAL) UTF-8 ALL").startswith("* SORT ")
    assert sort(r, "(DATE) UTF-8 FLAGGED") == "* SORT"
