"""THREAD and UID THREAD (RFC 5256: ORDEREDSUBJECT, REFERENCES) against a
real tern over a socket, on a mailbox of hostile headers: no Date, a
broken encoded word, a References loop, a 1000-long References, a reply
to a message that is not there; exact untagged responses and errors."""
from imaputil import RawImap
from test_imap_sort import append_all

LONG_REFS = "\r\n ".join("<r%d@x>" % i for i in range(999)) + "\r\n <b@x>"

# (INTERNALDATE, message)
MESSAGES = [
    # 1: no Date: it dates from its INTERNALDATE
    ("01-Jan-2020 10:00:00 +0000", "Message-ID: <a@x>\r\nSubject: topic\r\n\r\n1\r\n"),
    ("05-Jan-2020 10:00:00 +0000", "Message-ID: <b@x>\r\nReferences: <a@x>\r\nSubject: Re: topic\r\n"
                                   "Date: Thu, 02 Jan 2020 00:00:00 +0000\r\n\r\n2\r\n"),
    # 3 and 4 refer to each other: the loop is not made, 4 stays the parent
    ("05-Jan-2020 10:00:00 +0000", "Message-ID: <c@x>\r\nReferences: <d@x>\r\n"
                                   "Subject: =?utf-8?q?broken\r\nDate: Sun, 02 Jun 2019 00:00:00 +0000\r\n\r\n3\r\n"),
    ("05-Jan-2020 10:00:00 +0000", "Message-ID: <d@x>\r\nReferences: <c@x>\r\n"
                                   "Subject: Re: =?utf-8?q?broken\r\nDate: Sat, 01 Jun 2019 00:00:00 +0000\r\n\r\n4\r\n"),
    # 5: 1000 references, the last one its parent
    ("05-Jan-2020 10:00:00 +0000", "Message-ID: <e@x>\r\nReferences: " + LONG_REFS + "\r\n"
                                   "Subject: Re: Re: topic\r\nDate: Fri, 03 Jan 2020 00:00:00 +0000\r\n\r\n5\r\n"),
    # 6: no Message-ID, In-Reply-To a message not in the mailbox
    ("01-Feb-2020 10:00:00 +0000", "In-Reply-To: <zz@x>\r\nSubject: other\r\n\r\n6\r\n"),
]


def thread(r, args, uid=False):
    lines, tag = r.cmd(("UID THREAD " if uid else "THREAD ") + args)
    assert b" OK " in tag, (args, tag)
    assert len(lines) == 1 and lines[0].startswith(b"* THREAD"), lines
    return lines[0].decode()


def test_thread_hostile_mailbox(make_tern):
    t = make_tern()
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    append_all(r, MESSAGES)
    r.cmd("SELECT INBOX")
    caps, _ = r.cmd("CAPABILITY")
    assert b" THREAD=ORDEREDSUBJECT THREAD=REFERENCES" in caps[0], caps
    assert thread(r, "REFERENCES UTF-8 ALL") == "* THREAD (4 3)(1 2 5)(6)"
    assert thread(r, "ORDEREDSUBJECT UTF-8 ALL") == "* THREAD (4 3)(1 (2)(5))(6)"
    assert thread(r, "REFERENCES US-ASCII SUBJECT topic") == "* THREAD (1 2 5)"
    assert thread(r, "ORDEREDSUBJECT UTF-8 NOT ALL") == "* THREAD"
    # without its root the thread starts at the reply; UIDs no longer equal sequence numbers
    r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, tag = r.cmd("EXPUNGE")
    assert b" OK " in tag, tag
    assert thread(r, "REFERENCES UTF-8 ALL") == "* THREAD (3 2)(1 4)(5)"
    assert thread(r, "REFERENCES UTF-8 ALL", uid=True) == "* THREAD (4 3)(2 5)(6)"
    assert thread(r, "ORDEREDSUBJECT UTF-8 ALL", uid=True) == "* THREAD (4 3)(2 5)(6)"


def test_thread_errors(make_tern):
    t = make_tern()
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    _, tag = r.cmd("THREAD REFERENCES UTF-8 ALL")
    assert b" BAD " in tag, tag
    append_all(r, MESSAGES[:1])
    r.cmd("SELECT INBOX")
    for bad in ["THREAD", "THREAD REFERENCES", "THREAD REFERENCES UTF-8", "THREAD FOO UTF-8 ALL",
                "THREAD (REFERENCES) UTF-8 ALL", "THREAD REFERENCES UTF-8 NOSUCHKEY",
                "UID THREAD ORDEREDSUBJECT UTF-8 ALL extra)"]:
        _, tag = r.cmd(bad)
        assert b" BAD " in tag, (bad, tag)
    _, tag = r.cmd("THREAD REFERENCES KOI9-X ALL")
    assert tag.startswith(b"t%d NO [BADCHARSET" % r.n), tag
    assert thread(r, "REFERENCES UTF-8 ALL") == "* THREAD (1)"
