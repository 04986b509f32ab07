"""SMTP smuggling: only <CRLF>.<CRLF> ends DATA, and bare CR / LF refuse the message."""
import pytest


def start_data(t, rcpt="bob@example.test"):
    r = t.raw()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@remote.example>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert r.cmd("DATA")[0] == 354
    return r


SMUGGLED = ("MAIL FROM:<admin@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
            "Subject: SMUGGLED\r\n\r\nevil\r\n")


@pytest.mark.parametrize("fake_end", ["\n.\r\n", "\r\n.\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r\n.\r\r\n"])
def test_fake_end_of_data_never_splits_a_message(make_tern, fake_end):
    t = make_tern()
    r = start_data(t)
    r.send("Subject: carrier\r\n\r\nhello" + fake_end + SMUGGLED + ".\r\n")
    code, texts = r.reply()
    assert code == 550 and texts[0].startswith("5.6.0"), (code, texts)
    # the "second transaction" was data, not commands: the next reply is for NOOP
    assert r.cmd("NOOP")[0] == 250
    r.close()
    assert t.messages("alice@example.test") == []
    assert t.messages("bob@example.test") == []
    assert "msg=accepted" not in t.log()


def test_bare_lf_in_body_refused(tern):
    r = start_data(tern)
    r.send("Subject: bare lf\r\n\r\nline\nother\r\n.\r\n")
    code, texts = r.reply()
    assert code == 550
    r.close()
    assert not any(b"Subject: bare lf" in m for m in tern.bodies("bob@example.test"))


def test_bare_lf_in_bdat_refused(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<a@remote.example>")
    r.cmd("RCPT TO:<bob@example.test>")
    data = b"Subject: bdat bare\r\n\r\nx\ny\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(data) + data)
    code, _ = r.reply()
    assert code == 550
    assert r.cmd("NOOP")[0] == 250
    r.close()


def test_proper_crlf_dot_crlf_inside_line_is_content(tern):
    r = start_data(tern)
    r.send("Subject: dots\r\n\r\n.hidden\r\n..\r\na.\r\n.\r\n")
    assert r.reply()[0] == 250
    r.close()
    stored = [m for m in tern.bodies("bob@example.test") if b"Subject: dots" in m]
    assert stored and stored[0].endswith(b"\r\n\r\nhidden\r\n.\r\na.\r\n")
