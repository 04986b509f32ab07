"""
IMAP mailbox commands end to end (src/imap/mailboxes.c): CREATE, DELETE,
RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS,
SPECIAL-USE, CHILDREN), LSUB, NAMESPACE, STATUS and QUOTA, checked line
by line on the wire with the raw client, plus imaplib where a real client
library's view matters.  Every test works in an account of its own on the
shared server.
"""
import imaplib
import itertools
import re
import time

import pytest

from conftest import message
from imaputil import RawImap, tls_context

PW = "secret-" + "pw"
_counter = itertools.count(1)

DEFAULT_LIST = [
    b'* LIST (\\HasNoChildren) "/" "INBOX"',
    b'* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
    b'* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
    b'* LIST (\\Junk \\HasNoChildren) "/" "Junk"',
    b'* LIST (\\Sent \\HasNoChildren) "/" "Sent"',
    b'* LIST (\\Trash \\HasNoChildren) "/" "Trash"',
]


@pytest.fixture
def user(tern):
    addr = "mbox%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def raw(tern, addr):
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(addr, PW)
    return r


def ok(r, command):
    """Run a command that must succeed; return its untagged lines."""
    lines, tagged = r.cmd(command)
    assert re.match(rb"^t\d+ OK ", tagged), (command, lines, tagged)
    return lines


def no(r, command, code):
    lines, tagged = r.cmd(command)
    assert re.match(rb"^t\d+ NO \[" + code.encode() + rb"\] ", tagged), (command, tagged)
    return lines


def deliver(tern, rcpt, n=1):
    with tern.smtp() as s:
        for i in range(n):
            s.sendmail("sender@remote.example", [rcpt], message(subject="m%d" % i))


def append(r, mailbox, n=1):
    for i in range(n):
        msg = message(subject="appended %d" % i)
        ok(r, 'APPEND "%s" {%d+}\r\n%s' % (mailbox, len(msg.encode()), msg))


def login_imaplib(tern, addr):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"], timeout=15)
    m.starttls(ssl_context=tls_context())
    m.login(addr, PW)
    return m


# ---- NAMESPACE and the delimiter ---------------------------------------------------

def test_namespace(tern, user):
    r = raw(tern, user)
    assert ok(r, "NAMESPACE") == [b'* NAMESPACE (("" "/")) NIL NIL']
    r.close()


def test_list_empty_pattern_gives_the_delimiter(tern, user):
    r = raw(tern, user)
    assert ok(r, 'LIST "" ""') == [b'* LIST (\\Noselect) "/" ""']
    assert ok(r, 'LIST "Archive/" ""') == [b'* LIST (\\Noselect) "/" ""']
    # RFC 5258: an extended LIST does not treat "" as that request
    assert ok(r, 'LIST "" "" RETURN (CHILDREN)') == []
    assert ok(r, 'LIST (SUBSCRIBED) "" ""') == []
    assert ok(r, 'LIST "" ("" "INBOX")') == [DEFAULT_LIST[0]]
    assert ok(r, 'LSUB "" ""') == []
    r.close()


# ---- LIST ------------------------------------------------------------------------

def test_list_new_account_exact_lines(tern, user):
    r = raw(tern, user)
    assert ok(r, 'LIST "" "*"') == DEFAULT_LIST
    assert ok(r, 'LIST "" "%"') == DEFAULT_LIST
    # RETURN (CHILDREN) and RETURN (SPECIAL-USE) change nothing: both are always there
    assert ok(r, 'LIST "" "*" RETURN (CHILDREN SPECIAL-USE)') == DEFAULT_LIST
    assert ok(r, 'LIST (REMOTE) "" "*"') == DEFAULT_LIST
    r.close()


def test_list_inbox_is_case_insensitive(tern, user):
    r = raw(tern, user)
    for pattern in ("inbox", "InBox", "INBOX", "i*", "in%"):
        assert ok(r, 'LIST "" "%s"' % pattern) == [DEFAULT_LIST[0]], pattern
    assert ok(r, 'LIST "" "sent"') == []      # other names are exact
    r.close()


def test_list_hierarchy_patterns_and_reference(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Projects/2024/Q1"')      # the parents come along
    ok(r, 'CREATE "Projects/2025"')
    assert ok(r, 'LIST "" "Projects*"') == [
        b'* LIST (\\HasChildren) "/" "Projects"',
        b'* LIST (\\HasChildren) "/" "Projects/2024"',
        b'* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"',
        b'* LIST (\\HasNoChildren) "/" "Projects/2025"',
    ]
    assert ok(r, 'LIST "" "Projects/%"') == [
        b'* LIST (\\HasChildren) "/" "Projects/2024"',
        b'* LIST (\\HasNoChildren) "/" "Projects/2025"',
    ]
    assert ok(r, 'LIST "Projects/" "%"') == ok(r, 'LIST "" "Projects/%"')
    assert ok(r, 'LIST "Projects/" "*Q1"') == [b'* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"']
    assert ok(r, 'LIST "" "%/%/%"') == [b'* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"']
    assert ok(r, 'LIST "" "*/*"') == [
        b'* LIST (\\HasChildren) "/" "Projects/2024"',
        b'* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"',
        b'* LIST (\\HasNoChildren) "/" "Projects/2025"',
    ]
    top = ok(r, 'LIST "" "%"')
    assert b'* LIST (\\HasChildren) "/" "Projects"' in top and len(top) == 7
    # several patterns: each mailbox once, in listing order
    assert ok(r, 'LIST "" ("Sent" "INBOX" "Projects/2025" "Sent")') == [
        DEFAULT_LIST[0], b'* LIST (\\HasNoChildren) "/" "Projects/2025"', DEFAULT_LIST[4]]
    r.close()


def test_list_hostile_pattern_is_quick(tern, user):
    r = raw(tern, user)
    for i in range(60):
        ok(r, 'CREATE "deep%d/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbb"' % i)
    pattern = "%*" * 400 + "z"
    start = time.time()
    assert ok(r, 'LIST "" ("%s" "%s")' % (pattern, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*zz")) == []
    assert time.time() - start < 3
    # and a pattern longer than any name can be matches nothing
    assert ok(r, 'LIST "" "%s"' % ("a" * 1100)) == []
    r.close()


def test_list_bad_arguments(tern, user):
    r = raw(tern, user)
    _, t = r.cmd('LIST (RECURSIVEMATCH) "" "*"')
    assert b" BAD " in t
    lines, t = r.cmd('LIST "" "&Jjo!"')   # not modified UTF-7: no name matches it (as Dovecot and imaptest have it)
    assert b" OK " in t and not lines, (lines, t)
    _, t = r.cmd('LIST "" "*" RETURN (BOGUS)')
    assert b" BAD " in t
    r.close()


# ---- CREATE ------------------------------------------------------------------------

def test_create_errors_and_trailing_delimiter(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Foo/"')
    assert ok(r, 'LIST "" "Foo*"') == [b'* LIST (\\HasNoChildren) "/" "Foo"']
    no(r, 'CREATE "Foo"', "ALREADYEXISTS")
    no(r, "CREATE INBOX", "ALREADYEXISTS")
    no(r, "CREATE inbox", "ALREADYEXISTS")
    no(r, 'CREATE "Sent"', "ALREADYEXISTS")
    no(r, 'CREATE "a//b"', "CANNOT")
    no(r, 'CREATE "bad*name"', "CANNOT")
    no(r, 'CREATE "%s"' % ("x" * 600), "CANNOT")
    ok(r, 'CREATE "Say \\"hi\\" \\\\ bye"')      # quoted specials come back escaped
    assert ok(r, 'LIST "" "Say*"') == [b'* LIST (\\HasNoChildren) "/" "Say \\"hi\\" \\\\ bye"']
    ok(r, 'CREATE "INBOX/Sub"')
    assert ok(r, 'LIST "" "inbox*"') == [
        b'* LIST (\\HasChildren) "/" "INBOX"', b'* LIST (\\HasNoChildren) "/" "INBOX/Sub"']
    r.close()


def test_create_special_use(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Starred" (USE (\\Flagged))')
    ok(r, 'CREATE "Everything" (USE (\\all))')
    assert ok(r, 'LIST "" "Starred"') == [b'* LIST (\\Flagged \\HasNoChildren) "/" "Starred"']
    assert ok(r, 'LIST "" "Everything"') == [b'* LIST (\\All \\HasNoChildren) "/" "Everything"']
    # RFC 6154 §3: an unknown special use is NO [USEATTR], and nothing is created
    no(r, 'CREATE "Odd" (USE (\\Bogus))', "USEATTR")
    assert ok(r, 'LIST "" "Odd"') == []
    r.close()


def test_create_modified_utf7_and_utf8(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "&ZeVnLIqe-"')            # 日本語
    ok(r, 'CREATE "Caf&AOk-/&U,BTFw-"')     # Café/台北
    assert ok(r, 'LIST "" "&ZeVnLIqe-"') == [b'* LIST (\\HasNoChildren) "/" "&ZeVnLIqe-"']
    assert ok(r, 'LIST "" "Caf&AOk-/*"') == [b'* LIST (\\HasNoChildren) "/" "Caf&AOk-/&U,BTFw-"']
    _, t = r.cmd('CREATE "&ZeVnLIqe"')      # unterminated: well-formed IMAP, no name a mailbox can have
    assert b" NO [CANNOT] " in t, t
    ok(r, "ENABLE UTF8=ACCEPT")
    listing = ok(r, 'LIST "" "*"')
    assert '* LIST (\\HasNoChildren) "/" "日本語"'.encode() in listing
    assert '* LIST (\\HasChildren) "/" "Café"'.encode() in listing
    assert '* LIST (\\HasNoChildren) "/" "Café/台北"'.encode() in listing
    assert ok(r, 'LIST "" "日本*"') == ['* LIST (\\HasNoChildren) "/" "日本語"'.encode()]
    assert ok(r, 'STATUS "Café/台北" (MESSAGES)') == ['* STATUS "Café/台北" (MESSAGES 0)'.encode()]
    ok(r, 'CREATE "Ünïcode"')
    r.close()
    r = raw(tern, user)
    assert ok(r, 'LIST "" "&ANw-n&AO8-code"') == [b'* LIST (\\HasNoChildren) "/" "&ANw-n&AO8-code"']
    r.close()


def test_create_with_imaplib(tern, user):
    m = login_imaplib(tern, user)
    typ, _ = m.create("Reports/Weekly")
    assert typ == "OK"
    typ, data = m.list('""', "Reports*")
    assert typ == "OK"
    assert data == [b'(\\HasChildren) "/" "Reports"', b'(\\HasNoChildren) "/" "Reports/Weekly"']
    typ, data = m.create("Reports")
    assert typ == "NO" and data[0].startswith(b"[ALREADYEXISTS]")
    m.logout()


# ---- DELETE ------------------------------------------------------------------------

def test_delete(tern, user):
    r = raw(tern, user)
    no(r, "DELETE INBOX", "CANNOT")
    no(r, 'DELETE "Nope"', "NONEXISTENT")
    no(r, 'DELETE "bad*name"', "NONEXISTENT")
    ok(r, 'CREATE "Old/Child"')
    no(r, 'DELETE "Old"', "INUSE")          # children first
    ok(r, 'SELECT "Old/Child"')
    no(r, 'DELETE "Old/Child"', "INUSE")    # this session has it selected
    ok(r, "UNSELECT")
    ok(r, 'DELETE "Old/Child"')
    ok(r, 'DELETE "Old/"')
    assert ok(r, 'LIST "" "Old*"') == []
    no(r, 'STATUS "Old" (MESSAGES)', "NONEXISTENT")
    r.close()


def test_delete_removes_messages(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Keep"')
    append(r, "Keep", 2)
    assert ok(r, 'STATUS "Keep" (MESSAGES)') == [b'* STATUS "Keep" (MESSAGES 2)']
    ok(r, 'DELETE "Keep"')
    ok(r, 'CREATE "Keep"')
    assert ok(r, 'STATUS "Keep" (MESSAGES)') == [b'* STATUS "Keep" (MESSAGES 0)']
    r.close()


# ---- RENAME ------------------------------------------------------------------------

def test_rename_with_children_and_errors(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "A/B/C"')
    ok(r, 'RENAME "A" "Z/Y"')
    assert ok(r, 'LIST "" "*/*"') == [
        b'* LIST (\\HasChildren) "/" "Z/Y"',
        b'* LIST (\\HasChildren) "/" "Z/Y/B"',
        b'* LIST (\\HasNoChildren) "/" "Z/Y/B/C"',
    ]
    assert ok(r, 'LIST "" "A*"') == [b'* LIST (\\Archive \\HasNoChildren) "/" "Archive"']
    no(r, 'RENAME "Nope" "Other"', "NONEXISTENT")
    no(r, 'RENAME "Z" "Sent"', "ALREADYEXISTS")
    no(r, 'RENAME "Z" "inbox"', "ALREADYEXISTS")
    no(r, 'RENAME "Z" "Z/Y/B/C/D"', "CANNOT")   # into itself
    no(r, 'RENAME "Z" "x//y"', "CANNOT")
    no(r, 'RENAME "no*such" "x"', "NONEXISTENT")
    r.close()


def test_rename_selected_mailbox_keeps_the_view(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Box"')
    append(r, "Box")
    ok(r, 'SELECT "Box"')
    ok(r, 'RENAME "Box" "Crate"')
    lines = ok(r, "FETCH 1 (FLAGS)")
    assert len(lines) == 1 and lines[0].startswith(b"* 1 FETCH (")
    ok(r, "STORE 1 +FLAGS (\\Flagged)")
    assert ok(r, 'STATUS "Crate" (MESSAGES)') == [b'* STATUS "Crate" (MESSAGES 1)']
    ok(r, "UNSELECT")
    r.close()


def test_rename_inbox_moves_its_messages(tern, user):
    deliver(tern, user, 2)
    r = raw(tern, user)
    other = raw(tern, user)
    ok(other, "EXAMINE INBOX")
    ok(r, 'CREATE "INBOX/Kid"')
    ok(r, "SELECT INBOX")
    # the selected INBOX empties: this session hears of it before the tagged OK, others at their next command
    expunged = [[b"* 1 EXPUNGE", b"* 1 EXPUNGE"], [b"* 2 EXPUNGE", b"* 1 EXPUNGE"]]
    assert ok(r, 'RENAME INBOX "Old Mail"') in expunged
    assert ok(other, "NOOP") in expunged
    other.close()
    assert ok(r, "NOOP") == []
    ok(r, "UNSELECT")
    assert ok(r, 'STATUS INBOX (MESSAGES)') == [b'* STATUS "INBOX" (MESSAGES 0)']
    assert ok(r, 'STATUS "Old Mail" (MESSAGES)') == [b'* STATUS "Old Mail" (MESSAGES 2)']
    # INBOX stays, with its children
    assert ok(r, 'LIST "" "INBOX*"') == [
        b'* LIST (\\HasChildren) "/" "INBOX"', b'* LIST (\\HasNoChildren) "/" "INBOX/Kid"']
    assert len(tern.messages(user, "Old Mail")) == 2
    assert tern.messages(user) == []
    r.close()


# ---- SUBSCRIBE, LSUB, LIST (SUBSCRIBED) --------------------------------------------

def test_subscriptions_lsub_and_list_subscribed(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Lists/tern"')
    ok(r, 'SUBSCRIBE "Lists/tern"')           # CREATE does not subscribe (as with Dovecot)
    ok(r, 'UNSUBSCRIBE "Lists"')
    ok(r, 'UNSUBSCRIBE "Junk"')
    ok(r, 'UNSUBSCRIBE "Junk"')               # already: still fine
    no(r, 'SUBSCRIBE "Nope"', "NONEXISTENT")
    no(r, 'UNSUBSCRIBE "Nope"', "NONEXISTENT")
    assert ok(r, 'LSUB "" "*"') == [
        b'* LSUB () "/" "INBOX"', b'* LSUB () "/" "Archive"', b'* LSUB () "/" "Drafts"',
        b'* LSUB () "/" "Lists/tern"', b'* LSUB () "/" "Sent"', b'* LSUB () "/" "Trash"',
    ]
    # RFC 3501 §6.3.9: with "%", an unsubscribed parent of a subscribed name is \Noselect
    assert b'* LSUB (\\Noselect) "/" "Lists"' in ok(r, 'LSUB "" "%"')
    assert ok(r, 'LSUB "" "Lists"') == [b'* LSUB (\\Noselect) "/" "Lists"']
    assert ok(r, 'LSUB "Lists/" "%"') == [b'* LSUB () "/" "Lists/tern"']

    assert ok(r, 'LIST (SUBSCRIBED) "" "*"') == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        b'* LIST (\\Archive \\HasNoChildren \\Subscribed) "/" "Archive"',
        b'* LIST (\\Drafts \\HasNoChildren \\Subscribed) "/" "Drafts"',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/tern"',
        b'* LIST (\\Sent \\HasNoChildren \\Subscribed) "/" "Sent"',
        b'* LIST (\\Trash \\HasNoChildren \\Subscribed) "/" "Trash"',
    ]
    # without RECURSIVEMATCH, "%" does not bring in the unsubscribed parent
    assert ok(r, 'LIST (SUBSCRIBED) "" "L%"') == []
    assert ok(r, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')[3] == \
        b'* LIST (\\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))'
    assert ok(r, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "L*"') == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/tern"']
    ok(r, 'SUBSCRIBE "Lists"')
    assert ok(r, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "L*"') == [
        b'* LIST (\\HasChildren \\Subscribed) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/tern"']
    # RETURN (SUBSCRIBED): every mailbox, the subscribed ones marked
    assert ok(r, 'LIST "" "J*" RETURN (SUBSCRIBED)') == [b'* LIST (\\Junk \\HasNoChildren) "/" "Junk"']
    assert ok(r, 'LIST "" "S*" RETURN (SUBSCRIBED)') == [
        b'* LIST (\\Sent \\HasNoChildren \\Subscribed) "/" "Sent"']
    r.close()


def test_list_special_use_selection(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Plain"')
    ok(r, 'CREATE "Old/Stuff" (USE (\\Archive))')
    assert ok(r, 'LIST (SPECIAL-USE) "" "*"') == DEFAULT_LIST[1:3] + [
        b'* LIST (\\Junk \\HasNoChildren) "/" "Junk"',
        b'* LIST (\\Archive \\HasNoChildren) "/" "Old/Stuff"',
    ] + DEFAULT_LIST[4:]
    assert ok(r, 'LIST (SPECIAL-USE) "" "%" RETURN (SPECIAL-USE)') == DEFAULT_LIST[1:]
    assert ok(r, 'LIST (SPECIAL-USE RECURSIVEMATCH) "" "O%"') == [
        b'* LIST (\\HasChildren) "/" "Old" ("CHILDINFO" ("SPECIAL-USE"))']
    r.close()


# ---- STATUS and LIST-STATUS --------------------------------------------------------

def test_status_all_items(tern, user):
    deliver(tern, user, 3)
    r = raw(tern, user)
    ok(r, "SELECT INBOX")
    ok(r, "STORE 1 +FLAGS (\\Seen)")
    ok(r, "STORE 2 +FLAGS (\\Deleted)")
    ok(r, "UNSELECT")
    size = sum(len(b) for b in tern.bodies(user))
    lines = ok(r, "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE "
                  "HIGHESTMODSEQ APPENDLIMIT)")
    assert len(lines) == 1
    m = re.match(rb'^\* STATUS "INBOX" \(MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY (\d+) UNSEEN 2 '
                 rb'DELETED 1 SIZE (\d+) HIGHESTMODSEQ (\d+) APPENDLIMIT 1048576\)$', lines[0])
    assert m, lines
    assert int(m.group(2)) == size
    assert int(m.group(1)) > 0 and int(m.group(3)) > 0
    assert ok(r, 'STATUS "Sent" (MESSAGES UNSEEN)') == [b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)']
    assert ok(r, 'STATUS "inbox/" (MESSAGES)') == [b'* STATUS "INBOX" (MESSAGES 3)']
    no(r, 'STATUS "Nope" (MESSAGES)', "NONEXISTENT")
    no(r, 'STATUS "a//b" (MESSAGES)', "NONEXISTENT")
    _, t = r.cmd('STATUS INBOX (BOGUS)')
    assert b" BAD " in t
    # the selected mailbox may be asked too
    ok(r, "EXAMINE INBOX")
    assert ok(r, "STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 3)']
    r.close()


def test_status_highestmodseq_enables_condstore(tern, user):
    deliver(tern, user)
    r = raw(tern, user)
    ok(r, "SELECT INBOX")
    assert b"MODSEQ" not in ok(r, "FETCH 1 (FLAGS)")[0]
    ok(r, 'STATUS "Sent" (HIGHESTMODSEQ)')
    assert re.search(rb"MODSEQ \(\d+\)", ok(r, "FETCH 1 (FLAGS)")[0])
    r.close()


def test_list_status(tern, user):
    deliver(tern, user, 2)
    r = raw(tern, user)
    status = ok(r, "STATUS INBOX (MESSAGES UNSEEN SIZE)")
    lines = ok(r, 'LIST "" ("INBOX" "Sent" "Drafts") RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    assert lines == [
        DEFAULT_LIST[0], status[0],
        DEFAULT_LIST[2], b'* STATUS "Drafts" (MESSAGES 0 UNSEEN 0 SIZE 0)',
        DEFAULT_LIST[4], b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0 SIZE 0)',
    ]
    assert status[0].startswith(b'* STATUS "INBOX" (MESSAGES 2 UNSEEN 2 SIZE ')
    lines = ok(r, 'LIST (SUBSCRIBED) "" "Trash" RETURN (CHILDREN STATUS (UIDNEXT))')
    assert lines == [b'* LIST (\\Trash \\HasNoChildren \\Subscribed) "/" "Trash"',
                     b'* STATUS "Trash" (UIDNEXT 1)']
    r.close()


def test_status_and_lsub_with_imaplib(tern, user):
    m = login_imaplib(tern, user)
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT)")
    assert typ == "OK" and data == [b'"INBOX" (MESSAGES 0 UIDNEXT 1)']
    typ, data = m.lsub()
    assert typ == "OK" and len(data) == 6
    m.logout()


# ---- QUOTA -----------------------------------------------------------------------

def test_quota(tern, user):
    r = raw(tern, user)
    # no limits: no quota root at all
    assert ok(r, "GETQUOTAROOT INBOX") == [b'* QUOTAROOT "INBOX"']
    no(r, 'GETQUOTA ""', "NONEXISTENT")
    no(r, 'GETQUOTAROOT "Nope"', "NONEXISTENT")
    no(r, 'SETQUOTA "" (STORAGE 100)', "NOPERM")
    deliver(tern, user, 2)
    used = sum(len(b) for b in tern.bodies(user))
    tern.cli("user", "quota", user, "--storage", "10M")
    kib = (used + 1023) // 1024
    assert ok(r, "GETQUOTAROOT Sent") == [
        b'* QUOTAROOT "Sent" ""', b'* QUOTA "" (STORAGE %d 10240)' % kib]
    tern.cli("user", "quota", user, "--messages", "50")
    assert ok(r, 'GETQUOTA ""') == [b'* QUOTA "" (STORAGE %d 10240 MESSAGE 2 50)' % kib]
    tern.cli("user", "quota", user, "--storage", "0")
    assert ok(r, 'GETQUOTAROOT "inbox"') == [b'* QUOTAROOT "INBOX" ""', b'* QUOTA "" (MESSAGE 2 50)']
    no(r, 'GETQUOTA "other"', "NONEXISTENT")
    r.close()


def test_quota_with_imaplib(tern, user):
    tern.cli("user", "quota", user, "--messages", "7")
    m = login_imaplib(tern, user)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK"
    assert data == [[b'"INBOX" ""'], [b'"" (MESSAGE 0 7)']]
    m.logout()


# ---- state -------------------------------------------------------------------------

def test_mailbox_commands_need_login(tern):
    r = RawImap(tern.ports["imaps"], tls=True)
    for command in ('LIST "" "*"', "CREATE x", "DELETE x", 'RENAME x y', "SUBSCRIBE x", "NAMESPACE",
                    "STATUS INBOX (MESSAGES)", "GETQUOTAROOT INBOX"):
        _, t = r.cmd(command)
        assert b" BAD " in t, command
    r.close()
