"""SEARCH cases imaptest found (test_imaptest.py): an address with comments
inside still matches FROM by its plain form, and SENT* count the Date
field's day as written, in its own zone (RFC 9051 §6.4.4)."""
from imaputil import RawImap


def deliver(t, raw):
    s = t.smtp()
    s.sendmail("x@remote.example", ["alice@example.test"], raw.encode())
    s.quit()


def search(r, criteria):
    lines, tag = r.cmd("SEARCH " + criteria)
    assert b" OK " in tag, tag
    return [int(x) for x in b" ".join(lines).split()[2:]]


def test_address_and_sent_date_search(make_tern):
    t = make_tern()
    deliver(t, "From: <user-from (comment)@ (comment) domain.org>\r\nTo: a@example.test\r\n"
               "Date: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: one\r\n\r\nx\r\n")
    deliver(t, "From: Real Name <other@domain.org>\r\nTo: a@example.test\r\n"
               "Date: Sun, 25 Mar 2007 01:30:00 +0300\r\nSubject: two\r\n\r\nx\r\n")
    r = RawImap(t.ports["imaps"], tls=True)
    r.login()
    r.cmd("SELECT INBOX")
    assert search(r, "FROM user-from@domain.org") == [1]
    assert search(r, "FROM real") == [2]
    # 24 Mar 23:00 +0200 is 21:00 UTC on the 24th; 25 Mar 01:30 +0300 is 22:30 UTC on the 24th
    assert search(r, "SENTON 24-Mar-2007") == [1]
    assert search(r, "SENTON 25-Mar-2007") == [2]
    assert search(r, "SENTBEFORE 25-Mar-2007") == [1]
    assert search(r, "SENTSINCE 25-Mar-2007") == [2]
