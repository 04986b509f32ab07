"""NOTIFY (RFC 5465) against a real tern, with two sessions: one asks to be
told, the other changes things.  Unsolicited STATUS for a watched mailbox
that is not selected (APPEND, STORE, EXPUNGE by the other session), LIST
for CREATE / RENAME / DELETE and for SUBSCRIBE / UNSUBSCRIBE, mailboxes
created after NOTIFY SET, the selected mailbox's events (EXISTS and the
MessageNew fetch-atts as an unsolicited FETCH, FETCH FLAGS, EXPUNGE at once
or -- selected-delayed -- only where RFC 9051 allows it, nothing the client
did not ask for), NOTIFY NONE, the STATUS indicator, IDLE, BADEVENT, syntax
errors and the limits."""
import socket
import time

from imaputil import RawImap

EVENTS = b"BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"


def login(t):
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    return r


def ok(r, cmd):
    lines, tag = r.cmd(cmd)
    assert b" OK " in tag, (cmd, tag)
    return lines


def append(r, mailbox, text=b"Subject: hello\r\n\r\nbody\r\n"):
    tag = r.tag()
    r.send("%s APPEND %s {%d+}\r\n" % (tag, mailbox, len(text)))
    r.send(text + b"\r\n")
    _, t = r.until(tag)
    assert b" OK " in t, t


def pushed(r, want, timeout=5.0):
    """Lines the server sends without being asked, up to the first containing want."""
    lines = []
    r.sock.settimeout(timeout)
    try:
        while True:
            l = r.line()
            lines.append(l)
            if want in l:
                return lines
    except socket.timeout:
        raise AssertionError("no %r pushed; got %r" % (want, lines))
    finally:
        r.sock.settimeout(10)


def quiet(r, wait=0.4):
    """Nothing arrives unasked for a while."""
    time.sleep(wait)
    r.sock.settimeout(0.2)
    try:
        data = r.sock.recv(65536)
        r.buf += data
    except (socket.timeout, BlockingIOError):
        data = b""
    finally:
        r.sock.settimeout(10)
    assert not data and not r.buf, r.buf


def test_capability_and_initial_status(make_tern):
    t = make_tern()
    r = login(t)
    caps = ok(r, "CAPABILITY")
    assert b" NOTIFY" in caps[0], caps
    ok(r, "CREATE box2")
    append(r, "box2")
    # (another session asks: STATUS HIGHESTMODSEQ would enable CONDSTORE here)
    st = ok(login(t), "STATUS box2 (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)")[0]
    uv = int(st.split(b"UIDVALIDITY ")[1].split()[0])
    hms = int(st.split(b"HIGHESTMODSEQ ")[1].split(b")")[0])
    # RFC 5465 §3.1: the items each event needs, before the tagged OK (imaptest's "notify" group)
    assert ok(r, "NOTIFY SET STATUS (mailboxes box2 (MessageExpunge))") == [b'* STATUS "box2" (MESSAGES 1)']
    assert ok(r, "NOTIFY SET STATUS (mailboxes box2 (MessageNew))") == [
        b'* STATUS "box2" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d)' % uv]
    assert ok(r, "NOTIFY SET STATUS (mailboxes box2 (FlagChange))") == [
        b'* STATUS "box2" (UIDVALIDITY %d HIGHESTMODSEQ %d)' % (uv, hms)]
    # without STATUS, nothing; nor for a mailbox that does not exist (ignored, RFC 5465 §3.1)
    assert ok(r, "NOTIFY SET (mailboxes box2 (MessageNew MessageExpunge FlagChange))") == []
    assert ok(r, "NOTIFY SET STATUS (mailboxes (nosuch box2) (MessageExpunge))") == [b'* STATUS "box2" (MESSAGES 1)']
    # the selected mailbox has its own events, not STATUS
    ok(r, "SELECT box2")
    assert ok(r, "NOTIFY SET STATUS (mailboxes box2 (MessageExpunge))") == []


def test_status_for_other_sessions_changes(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, "CREATE box2")
    ok(r, "NOTIFY SET (mailboxes box2 (MessageNew MessageExpunge FlagChange))")
    # pushed while r sends nothing: only what changed
    append(other, "box2")
    assert pushed(r, b"STATUS") == [b'* STATUS "box2" (MESSAGES 1 UIDNEXT 2)']
    # no CONDSTORE: a flag change elsewhere has no STATUS item to show in
    ok(other, "SELECT box2")
    ok(other, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert ok(r, "NOOP") == []
    ok(other, "EXPUNGE")
    assert pushed(r, b"STATUS") == [b'* STATUS "box2" (MESSAGES 0)']
    # with CONDSTORE: HIGHESTMODSEQ too (RFC 5465 §5.1-5.3)
    ok(r, "ENABLE CONDSTORE")
    append(other, "box2")
    st = pushed(r, b"STATUS")
    assert len(st) == 1 and st[0].startswith(b'* STATUS "box2" (MESSAGES 1 UIDNEXT 3 HIGHESTMODSEQ '), st
    hms = int(st[0].split(b"HIGHESTMODSEQ ")[1].rstrip(b")"))
    ok(other, "NOOP")
    ok(other, "STORE 1 +FLAGS.SILENT (\\Seen)")
    assert pushed(r, b"STATUS") == [b'* STATUS "box2" (HIGHESTMODSEQ %d)' % (hms + 1)]
    # INBOX is not watched
    append(other, "INBOX")
    assert ok(r, "NOOP") == []


def test_mailbox_name_and_new_mailboxes(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
    ok(other, "CREATE foo")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren) "/" "foo"']
    # a mailbox created after NOTIFY SET is watched like the others
    append(other, "foo")
    assert pushed(r, b"STATUS") == [b'* STATUS "foo" (MESSAGES 1 UIDNEXT 2)']
    ok(other, "CREATE foo/kid")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren) "/" "foo/kid"']
    ok(other, "RENAME foo bar")
    lines = pushed(r, b"bar/kid")
    assert sorted(lines) == sorted([b'* LIST (\\HasChildren) "/" "bar" ("OLDNAME" ("foo"))',
                                    b'* LIST (\\HasNoChildren) "/" "bar/kid" ("OLDNAME" ("foo/kid"))']), lines
    # the entry followed the rename
    append(other, "bar")
    assert pushed(r, b"STATUS") == [b'* STATUS "bar" (MESSAGES 2 UIDNEXT 3)']
    ok(other, "DELETE bar/kid")
    assert pushed(r, b"LIST") == [b'* LIST (\\NonExistent) "/" "bar/kid"']
    # this session's own CREATE comes before its tagged OK
    assert ok(r, "CREATE mine") == [b'* LIST (\\HasNoChildren) "/" "mine"']
    # a subtree only sees its own
    ok(r, "NOTIFY SET (subtree bar (MailboxName))")
    ok(other, "CREATE elsewhere")
    ok(other, "CREATE bar/x")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren) "/" "bar/x"']
    # renamed out of the subtree: still told, with its old name; then no more
    ok(other, "RENAME bar/x away")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren) "/" "away" ("OLDNAME" ("bar/x"))']
    ok(other, "RENAME away away2")
    ok(other, "DELETE away2")
    quiet(r)
    assert ok(r, "NOOP") == []


def test_subscription_change(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(other, "CREATE news")
    ok(r, "NOTIFY SET (personal (SubscriptionChange))")
    ok(other, "SUBSCRIBE news")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren \\Subscribed) "/" "news"']
    ok(other, "UNSUBSCRIBE news")
    assert pushed(r, b"LIST") == [b'* LIST (\\HasNoChildren) "/" "news"']
    # the subscribed filter: the MessageNew events follow the subscription
    ok(r, "NOTIFY SET (subscribed (MessageNew MessageExpunge))")
    append(other, "news")
    assert ok(r, "NOOP") == []
    ok(other, "SUBSCRIBE news")
    ok(r, "NOOP")
    append(other, "news")
    assert pushed(r, b"STATUS") == [b'* STATUS "news" (MESSAGES 2 UIDNEXT 3)']


def test_selected_message_new_fetch(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, "SELECT INBOX")
    ok(r, "NOTIFY SET (selected (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)]) "
          "MessageExpunge FlagChange))")
    append(other, "INBOX", b"Subject: first\r\nFrom: a@b\r\n\r\nbody\r\n")
    lines = pushed(r, b"FETCH")
    assert lines[0] == b"* 1 EXISTS", lines
    assert lines[-1] == (b'* 1 FETCH (FLAGS (\\Recent) UID 1 BODY[HEADER.FIELDS (Subject)] {18}\r\n'
                         b'Subject: first\r\n\r\n)'), lines
    # the fetch did not mark it \Seen; another session's STORE: FETCH with UID and FLAGS
    ok(other, "SELECT INBOX")
    ok(other, "STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert pushed(r, b"FETCH") == [b"* 1 FETCH (UID 1 FLAGS (\\Recent \\Flagged))"]
    # EXPUNGE at once (selected, not selected-delayed)
    ok(other, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    pushed(r, b"FETCH")
    ok(other, "EXPUNGE")
    assert pushed(r, b"EXPUNGE") == [b"* 1 EXPUNGE"]


def test_selected_delayed_expunge(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    append(other, "INBOX")
    ok(r, "SELECT INBOX")
    ok(r, "NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
    ok(other, "SELECT INBOX")
    ok(other, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    append(other, "INBOX")
    # EXISTS is pushed; the EXPUNGE waits for a command that allows it
    assert pushed(r, b"EXISTS") == [b"* 2 EXISTS"]
    pushed(r, b"RECENT")    # how many: a race with the other session's claim
    quiet(r)
    assert ok(r, "FETCH 2 (UID)") == [b"* 2 FETCH (UID 2)"]   # no EXPUNGE during FETCH
    lines = ok(r, "NOOP")
    assert lines == [b"* 1 EXPUNGE"], lines


def test_selected_events_off_when_not_asked(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, "SELECT INBOX")
    # no selected group: SELECTED NONE (RFC 5465 §3.1)
    ok(r, "NOTIFY SET (personal (MailboxName))")
    append(other, "INBOX")
    quiet(r)
    assert ok(r, "NOOP") == []
    # only expunges asked for: the new message waits, flag changes are not told
    ok(r, "NOTIFY SET (selected (MessageExpunge))")
    ok(other, "SELECT INBOX")
    ok(other, "STORE 1 +FLAGS.SILENT (\\Seen)")
    assert ok(r, "NOOP") == []
    # NOTIFY NONE: back to the usual, and what waited comes
    lines = ok(r, "NOTIFY NONE")
    assert b"* 1 EXISTS" in lines, lines
    ok(other, "STORE 1 -FLAGS.SILENT (\\Seen)")
    quiet(r)    # without NOTIFY nothing comes unasked outside IDLE, as before
    assert ok(r, "NOOP") == [b"* 1 FETCH (FLAGS ())"]


def test_notify_none_and_replacement(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, "CREATE box2")
    ok(r, "CREATE box3")
    ok(r, "NOTIFY SET (mailboxes box2 (MessageNew MessageExpunge))")
    ok(r, "NOTIFY NONE")
    append(other, "box2")
    quiet(r)
    assert ok(r, "NOOP") == []
    # a NOTIFY SET replaces the one before
    ok(r, "NOTIFY SET (mailboxes box2 (MessageNew MessageExpunge))")
    ok(r, "NOTIFY SET (mailboxes box3 (MessageNew MessageExpunge))")
    append(other, "box2")
    append(other, "box3")
    assert pushed(r, b"STATUS") == [b'* STATUS "box3" (MESSAGES 1 UIDNEXT 2)']
    assert ok(r, "NOOP") == []


def test_idle_and_utf7_names(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    ok(r, 'CREATE "&AOQ-b"')
    ok(r, 'NOTIFY SET (mailboxes "&AOQ-b" (MessageNew MessageExpunge))')
    r.send("i1 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    append(other, '"&AOQ-b"')
    assert pushed(r, b"STATUS") == [b'* STATUS "&AOQ-b" (MESSAGES 1 UIDNEXT 2)']
    r.send("DONE\r\n")
    _, tag = r.until("i1")
    assert b" OK " in tag, tag
    # UTF8=ACCEPT: the same mailbox by its UTF-8 name, and named so in STATUS
    ok(r, "ENABLE UTF8=ACCEPT")
    lines = ok(r, 'NOTIFY SET STATUS (mailboxes "\u00e4b" (MessageExpunge))')
    assert lines == ['* STATUS "\u00e4b" (MESSAGES 1)'.encode()], lines


def test_badevent_and_syntax(make_tern):
    t = make_tern()
    r = login(t)
    for ev in ("AnnotationChange", "MailboxMetadataChange", "ServerMetadataChange", "FooBar"):
        _, tag = r.cmd("NOTIFY SET (personal (MessageNew %s))" % ev)
        assert b" NO [" + EVENTS + b"]" in tag, (ev, tag)
    _, tag = r.cmd("NOTIFY SET (selected (AnnotationChange))")
    assert b" NO [" + EVENTS + b"]" in tag, tag
    bad = [
        "NOTIFY", "NOTIFY SET", "NOTIFY FOO", "NOTIFY NONE extra", "NOTIFY SET STATUS",
        "NOTIFY SET (personal)", "NOTIFY SET (personal ())", "NOTIFY SET (bogus (MessageNew))",
        "NOTIFY SET personal (MessageNew)", "NOTIFY SET (personal (MessageNew)", "NOTIFY SET (subtree (MessageNew))",
        "NOTIFY SET (mailboxes () (MessageNew))",
        "NOTIFY SET (selected (MessageNew)) (selected-delayed (MessageNew))",
        "NOTIFY SET (selected (MailboxName))", "NOTIFY SET (selected-delayed (ServerMetadataChange))",
        "NOTIFY SET (personal (MessageNew (UID)))", "NOTIFY SET (selected (MessageNew ()))",
        "NOTIFY SET (selected (MessageNew (BOGUS)))", "NOTIFY SET (personal (MessageNew FooBar) ",
    ]
    for cmd in bad:
        _, tag = r.cmd(cmd)
        assert b" BAD " in tag, (cmd, tag)
        r.cmd("NOOP")   # keep under the BAD-command limit
    # an invalid mailbox name is refused like anywhere else
    _, tag = r.cmd('NOTIFY SET (mailboxes "&Jjo" (MessageNew))')
    assert b" NO [CANNOT]" in tag, tag
    # before login: no NOTIFY
    r2 = RawImap(t.ports["imaps"], tls=True)
    _, tag = r2.cmd("NOTIFY NONE")
    assert b" BAD " in tag, tag


def test_limits(make_tern):
    t = make_tern()
    r = login(t)
    groups = " ".join("(mailboxes m%d (MessageNew))" % i for i in range(33))
    _, tag = r.cmd("NOTIFY SET " + groups)
    assert b" NO [LIMIT]" in tag, tag
    assert b" OK " in r.cmd("NOTIFY SET " + " ".join("(mailboxes m%d (MessageNew))" % i for i in range(32)))[1]
    names = " ".join("n%d" % i for i in range(1001))
    _, tag = r.cmd("NOTIFY SET (mailboxes (%s) (MessageNew))" % names)
    assert b" NO [LIMIT]" in tag, tag
    # still parsed to its end: a syntax error past the limit is BAD
    _, tag = r.cmd("NOTIFY SET (mailboxes (%s) (MessageNew)) (" % names)
    assert b" BAD " in tag, tag
    _, tag = r.cmd("NOTIFY SET (mailboxes (%s) (MessageNew))" % " ".join("n%d" % i for i in range(1000)))
    assert b" OK " in tag, tag


def test_notification_overflow(make_tern):
    t = make_tern()
    r, other = login(t), login(t)
    # the account's six mailboxes and 9994 more: 10000, as many as one NOTIFY watches
    r.send("".join("c%d CREATE m%05d\r\n" % (i, i) for i in range(9994)))
    r.sock.settimeout(300)     # slow under ASan
    _, tag = r.until("c9993")
    r.sock.settimeout(10)
    assert b" OK " in tag, tag
    ok(r, "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
    # a change in one of 10000 watched mailboxes: one STATUS
    append(other, "m05000")
    assert pushed(r, b"STATUS") == [b'* STATUS "m05000" (MESSAGES 1 UIDNEXT 2)']
    # one more mailbox is too many: RFC 5465 §5.8, as if NOTIFY NONE
    ok(other, "CREATE straw")
    assert pushed(r, b"NOTIFICATIONOVERFLOW")[-1].startswith(b"* OK [NOTIFICATIONOVERFLOW]")
    ok(other, "CREATE after")
    append(other, "m05000")
    quiet(r)
    assert ok(r, "NOOP") == []
    # and a NOTIFY SET that would watch them all is refused
    _, tag = r.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")
    assert b" NO [NOTIFICATIONOVERFLOW]" in tag, tag
    assert b" OK " in r.cmd("NOTIFY SET (mailboxes m00001 (MessageNew MessageExpunge))")[1]
