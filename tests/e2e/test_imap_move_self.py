"""MOVE into the selected mailbox (RFC 6851 §3.3: as COPY then EXPUNGE), and
mailbox names that are well-formed IMAP but no name a mailbox can have
(NO, not BAD); both found by imaptest (test_imaptest.py)."""
import re

from conftest import message
from imaputil import RawImap


def test_move_into_the_selected_mailbox(make_tern):
    t = make_tern()
    s = t.smtp()
    for i in range(2):
        s.sendmail("x@remote.example", ["alice@example.test"], message("m%d" % i).encode())
    s.quit()
    a = RawImap(t.ports["imaps"], tls=True)
    a.login()
    b = RawImap(t.ports["imaps"], tls=True)
    b.login()
    _, tag = a.cmd("SELECT INBOX")
    uv = re.search(rb"UIDVALIDITY (\d+)", b"\n".join(a.cmd("STATUS INBOX (UIDVALIDITY)")[0])).group(1)
    b.cmd("SELECT INBOX")
    lines, tag = a.cmd("MOVE 1 INBOX")
    assert b" OK " in tag, (lines, tag)
    joined = b"\n".join(lines)
    assert re.search(rb"^\* OK \[COPYUID " + uv + rb" 1 3\]", joined, re.M), lines
    assert b"* 1 EXPUNGE" in lines and b"* 2 EXISTS" in lines, lines
    lines, _ = a.cmd("UID FETCH 1:* (FLAGS)")
    assert [re.search(rb"UID (\d+)", l).group(1) for l in lines] == [b"2", b"3"], lines
    # the other session sees the same at its next command
    lines, _ = b.cmd("NOOP")
    assert b"* 1 EXPUNGE" in lines and b"* 2 EXISTS" in lines, lines


def test_unnameable_mailbox_is_no(make_tern):
    t = make_tern()
    a = RawImap(t.ports["imaps"], tls=True)
    a.login()
    name = "!#$&'+,-.0123456789:;<=>?@^_`|[}"       # '&' starts modified UTF-7 that never ends right
    lines, tag = a.cmd("SELECT " + name)
    assert tag.split()[1] == b"NO" and b"[CANNOT]" in tag, tag
    lines, tag = a.cmd('LIST "" ' + name + "%*")
    assert b" OK " in tag and not lines, (lines, tag)
    _, tag = a.cmd('SELECT "a\\"b"')       # fine IMAP, a name that does not exist
    assert tag.split()[1] == b"NO", tag
