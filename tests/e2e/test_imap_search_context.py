"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267, RFC 9394 PARTIAL) against a
real tern: RETURN (UPDATE) results kept up to date as this session and
another one change the mailbox (ADDTO / REMOVEFROM, REMOVEFROM before the
EXPUNGE it belongs to), CANCELUPDATE, contexts ending with the selection,
NOUPDATE where tern will not keep a context, and PARTIAL windows."""
from imaputil import RawImap
from test_imap_sort import append_all

MESSAGES = [("0%d-Jan-2020 10:00:00 +0000" % i, "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)) for i in range(1, 6)]


def login(t, select=True):
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    if select:
        _, tag = r.cmd("SELECT INBOX")
        assert b" OK " in tag, tag
    return r


def ok(r, cmd):
    lines, tag = r.cmd(cmd)
    assert b" OK " in tag, (cmd, tag)
    return lines


def test_update_notifications(make_tern):
    t = make_tern()
    r = login(t, select=False)
    append_all(r, MESSAGES)
    ok(r, "SELECT INBOX")
    other = login(t)
    caps = ok(r, "CAPABILITY")
    assert b" CONTEXT=SEARCH CONTEXT=SORT" in caps[0], caps

    assert ok(r, 'SEARCH RETURN (UPDATE) SEEN') == [b'* ESEARCH (TAG "t%d")' % r.n]
    tag = "t%d" % r.n
    # this session's own change
    lines = ok(r, "STORE 1,2,4 +FLAGS.SILENT (\\Seen)")
    assert lines == [b'* ESEARCH (TAG "%s") ADDTO (0 1:2,4)' % tag.encode()], lines
    # another session's changes show at the next command
    ok(other, "STORE 2 -FLAGS.SILENT (\\Seen)")
    ok(other, "STORE 5 +FLAGS.SILENT (\\Seen)")
    lines = ok(r, "NOOP")
    assert b'* ESEARCH (TAG "%s") REMOVEFROM (0 2)' % tag.encode() in lines, lines
    assert b'* ESEARCH (TAG "%s") ADDTO (0 5)' % tag.encode() in lines, lines
    # an expunge elsewhere: REMOVEFROM comes first, while 4 still names the message
    ok(other, "STORE 4 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    lines = [l for l in ok(r, "NOOP") if b"FETCH" not in l]
    assert lines == [b'* ESEARCH (TAG "%s") REMOVEFROM (0 4)' % tag.encode(), b"* 4 EXPUNGE"], lines
    # a new message that matches: after its EXISTS, by its new number
    data = b"Subject: new\r\n\r\nnew\r\n"
    other.send('%s APPEND INBOX (\\Seen) {%d+}\r\n' % (other.tag(), len(data)))
    other.send(data + b"\r\n")
    other.until("t%d" % other.n)
    lines = [l for l in ok(r, "NOOP") if b"RECENT" not in l]
    assert lines == [b"* 5 EXISTS", b'* ESEARCH (TAG "%s") ADDTO (0 5)' % tag.encode()], lines
    # a UID context beside it
    lines = ok(r, "UID SEARCH RETURN (UPDATE ALL) UNSEEN")
    utag = "t%d" % r.n
    assert lines == [b'* ESEARCH (TAG "%s") UID ALL 2:3' % utag.encode()], lines
    lines = ok(r, "STORE 2 +FLAGS.SILENT (\\Seen)")
    assert sorted(lines) == sorted([b'* ESEARCH (TAG "%s") ADDTO (0 2)' % tag.encode(),
                                    b'* ESEARCH (TAG "%s") UID REMOVEFROM (0 2)' % utag.encode()]), lines
    # CANCELUPDATE: no more updates for that tag; an unknown tag is refused
    ok(r, 'CANCELUPDATE "%s"' % tag)
    _, bad = r.cmd('CANCELUPDATE "%s"' % tag)
    assert b" BAD " in bad, bad
    lines = ok(r, "STORE 3 +FLAGS.SILENT (\\Seen)")
    assert lines == [b'* ESEARCH (TAG "%s") UID REMOVEFROM (0 3)' % utag.encode()], lines
    # contexts end with the selection
    ok(r, "SELECT INBOX")
    ok(other, "STORE 1 -FLAGS.SILENT (\\Seen)")
    lines = ok(r, "NOOP")
    assert not [l for l in lines if b"ESEARCH" in l], lines


def test_seen_store_updates_both_contexts(make_tern):
    t = make_tern()
    r = login(t, select=False)
    append_all(r, MESSAGES[:3])
    ok(r, "SELECT INBOX")
    ok(r, "SEARCH RETURN (UPDATE) SEEN")
    seen = "t%d" % r.n
    ok(r, "SEARCH RETURN (UPDATE) UNSEEN")
    unseen = "t%d" % r.n
    lines = ok(r, "STORE 2 +FLAGS.SILENT (\\Seen)")
    assert sorted(lines) == sorted([b'* ESEARCH (TAG "%s") ADDTO (0 2)' % seen.encode(),
                                    b'* ESEARCH (TAG "%s") REMOVEFROM (0 2)' % unseen.encode()]), lines


def test_noupdate_and_limits(make_tern):
    t = make_tern()
    r = login(t, select=False)
    append_all(r, MESSAGES[:2])
    ok(r, "SELECT INBOX")
    lines = ok(r, "SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL")
    assert lines == [b'* ESEARCH (TAG "t%d") ALL 1:2' % r.n, b'* NO [NOUPDATE "t%d"] Sorted results are not '
                     b'kept up to date' % r.n], lines
    for _ in range(32):
        ok(r, "SEARCH RETURN (UPDATE) ALL")
    lines = ok(r, "SEARCH RETURN (UPDATE) ALL")
    assert lines[-1] == b'* NO [NOUPDATE "t%d"] Too many search contexts' % r.n, lines


def test_partial(make_tern):
    t = make_tern()
    r = login(t, select=False)
    append_all(r, MESSAGES)
    ok(r, "SELECT INBOX")

    def esearch(cmd):
        lines = ok(r, cmd)
        assert len(lines) == 1, lines
        return lines[0].decode().split(") ", 1)[1] if ") " in lines[0].decode() else ""

    assert esearch("SEARCH RETURN (PARTIAL 2:3) ALL") == "PARTIAL (2:3 2:3)"
    assert esearch("SEARCH RETURN (PARTIAL 3:2) NOT 2") == "PARTIAL (2:3 3:4)"
    assert esearch("SEARCH RETURN (PARTIAL -1:-2) ALL") == "PARTIAL (-2:-1 4:5)"
    assert esearch("SEARCH RETURN (PARTIAL -5:-9) ALL") == "PARTIAL (-9:-5 1)"
    assert esearch("SEARCH RETURN (PARTIAL 6:9) ALL") == "PARTIAL (6:9 NIL)"
    assert esearch("SEARCH RETURN (PARTIAL 1:9 COUNT) ALL") == "COUNT 5 PARTIAL (1:9 1:5)"
    assert esearch("SORT RETURN (PARTIAL 1:3) (REVERSE ARRIVAL) UTF-8 ALL") == "PARTIAL (1:3 5,4,3)"
    for bad in ["SEARCH RETURN (PARTIAL 1) ALL", "SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH RETURN (PARTIAL 0:2) ALL",
                "SEARCH RETURN (PARTIAL -1:2) ALL", "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
                "SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "SEARCH RETURN (PARTIAL 1:99999999999) ALL"]:
        _, tag = r.cmd(bad)
        assert b" BAD " in tag, (bad, tag)


def test_updates_during_idle(make_tern):
    t = make_tern()
    r = login(t, select=False)
    append_all(r, MESSAGES[:3])
    ok(r, "SELECT INBOX")
    other = login(t)
    ok(r, "UID SEARCH RETURN (UPDATE) FLAGGED")
    tag = "t%d" % r.n
    idle = r.tag()
    r.send("%s IDLE\r\n" % idle)
    assert r.line().startswith(b"+ ")
    ok(other, "STORE 2 +FLAGS.SILENT (\\Flagged)")
    got = []
    while not any(b"ESEARCH" in l for l in got):
        got.append(r.line())
    assert b'* ESEARCH (TAG "%s") UID ADDTO (0 2)' % tag.encode() in got, got
    r.send("DONE\r\n")
    _, done = r.until(idle)
    assert b" OK " in done, done
