"""CONDSTORE in searching commands (RFC 7162 §3.1, with RFC 4731 / 5267):
the first CONDSTORE-enabling command with a mailbox selected is answered
with an untagged OK [HIGHESTMODSEQ], once; MODSEQ in SEARCH and SORT
results is the highest modseq of the messages returned — of MIN's and
MAX's alone when only they are asked for."""
import re

from imaputil import RawImap
from test_imap_sort import append_all

MESSAGES = [("0%d-Jan-2020 10:00:00 +0000" % i, "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)) for i in range(1, 5)]


def modseq_of(r, seq):
    lines, tag = r.cmd("FETCH %d (MODSEQ)" % seq)
    m = [re.search(rb"MODSEQ \((\d+)\)", l) for l in lines]
    return int([x for x in m if x][0].group(1))


def test_highestmodseq_and_result_modseq(make_tern):
    t = make_tern()
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    append_all(r, MESSAGES)
    lines, tag = r.cmd("SELECT INBOX")
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
    lines, tag = r.cmd("FETCH 1 (MODSEQ)")
    assert b" OK " in tag, tag
    assert b"* OK [HIGHESTMODSEQ %d] Highest" % highest in lines, lines
    lines, tag = r.cmd("FETCH 1 (MODSEQ)")
    assert not [l for l in lines if b"HIGHESTMODSEQ" in l], lines      # once only
    # change the messages in the order 1 3 2 4: modseqs rise in that order
    for seq in (1, 3, 2, 4):
        r.cmd("STORE %d +FLAGS (\\Seen)" % seq)
    m = {seq: modseq_of(r, seq) for seq in range(1, 5)}
    assert m[1] < m[3] < m[2] < m[4]

    def esearch(cmd):
        lines, tag = r.cmd(cmd)
        assert b" OK " in tag, (cmd, tag)
        return lines[0].decode().split(") ", 1)[1]

    crit = "1:3 MODSEQ 1"
    assert esearch("SEARCH RETURN (MIN) " + crit) == "MIN 1 MODSEQ %d" % m[1]
    assert esearch("SEARCH RETURN (MAX) " + crit) == "MAX 3 MODSEQ %d" % m[3]
    assert esearch("SEARCH RETURN (MIN MAX) 2:3 MODSEQ 1") == "MIN 2 MAX 3 MODSEQ %d" % m[2]
    assert esearch("SEARCH RETURN (ALL) " + crit) == "ALL 1:3 MODSEQ %d" % m[2]
    assert esearch("SEARCH RETURN (COUNT) " + crit) == "COUNT 3 MODSEQ %d" % m[2]
    # SORT: MIN and MAX are the first and last in sort order
    assert esearch("SORT RETURN (MIN) (REVERSE ARRIVAL) UTF-8 " + crit) == "MIN 3 MODSEQ %d" % m[3]
    lines, tag = r.cmd("SORT (REVERSE ARRIVAL) UTF-8 " + crit)
    assert lines == [b"* SORT 3 2 1 (MODSEQ %d)" % m[2]], lines
    lines, tag = r.cmd("SEARCH MODSEQ %d" % m[2])
    assert lines == [b"* SEARCH 2 4 (MODSEQ %d)" % m[4]], lines


def test_search_modseq_enables_condstore(make_tern):
    t = make_tern()
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    append_all(r, MESSAGES[:1])
    lines, tag = r.cmd("SELECT INBOX")
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
    lines, tag = r.cmd("SEARCH MODSEQ 1")
    assert lines[0] == b"* OK [HIGHESTMODSEQ %d] Highest" % highest, lines
    assert lines[1].startswith(b"* SEARCH 1 (MODSEQ "), lines
