"""SMTP server, role smtp (MX): what a remote MTA sees."""
import os
import re
import smtplib

import pytest

from conftest import message


def test_greeting_and_ehlo_capabilities(tern):
    r = tern.raw()
    code, text = r.cmd("EHLO client.example.net")
    assert code == 250
    r.send("EHLO client.example.net\r\n")
    code, lines = r.reply()
    caps = {l.split()[0].upper(): l for l in lines[1:]}
    for cap in ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE", "ENHANCEDSTATUSCODES",
                "STARTTLS", "CHUNKING", "DSN"):
        assert cap in caps, lines
    assert caps["SIZE"] == "SIZE %d" % (1 << 20)
    assert "AUTH" not in caps, "no AUTH on the MX port"
    assert lines[0].startswith("mx.example.test")
    r.close()


def test_helo_without_extensions(tern):
    r = tern.raw()
    code, text = r.cmd("HELO client.example.net")
    assert code == 250 and text == "mx.example.test"
    r.close()


def test_delivery_is_stored_byte_exact_with_trace_headers(tern):
    r = tern.raw()
    r.cmd("EHLO client.example.net")
    assert r.cmd("MAIL FROM:<sender@remote.example>")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    msg = ("From: sender@remote.example\r\nTo: alice@example.test\r\nSubject: exact bytes\r\n\r\n"
           "Line one.\r\n..leading dot stuffed\r\n...\r\nlast line\r\n")
    r.send(msg + ".\r\n")
    code, texts = r.reply()
    text = " ".join(texts)
    assert code == 250, text
    m = re.search(r"queued as (\w+)", text)
    assert m
    qid = m.group(1)
    r.cmd("QUIT")
    uid = tern.messages("alice@example.test")[-1][0]
    stored = tern.cat("alice@example.test", uid)
    expected_body = (b"From: sender@remote.example\r\nTo: alice@example.test\r\nSubject: exact bytes\r\n\r\n"
                     b"Line one.\r\n.leading dot stuffed\r\n..\r\nlast line\r\n")
    assert stored.endswith(expected_body)
    head = stored[: len(stored) - len(expected_body)]
    assert head.startswith(b"Return-Path: <sender@remote.example>\r\nReceived: from client.example.net ([127.0.0.1])\r\n")
    assert b"by mx.example.test (tern) with ESMTP id " + qid.encode() in head
    assert b"for <alice@example.test>;" in head
    assert head.endswith(b"\r\n")
    assert re.search(rb"msg=accepted id=%s from=sender@remote.example to=alice@example.test size=\d+ code=250"
                     % qid.encode(), tern.log().encode())


def test_one_blob_for_all_local_recipients(make_tern):
    t = make_tern()
    s = t.smtp()
    s.sendmail("sender@remote.example", ["alice@example.test", "bob@example.test"],
               message("shared blob", to="alice@example.test, bob@example.test"))
    s.quit()
    a = t.bodies("alice@example.test")
    b = t.bodies("bob@example.test")
    assert len(a) == 1 and a == b
    assert b"for <" not in a[0].split(b"\r\n\r\n")[0], "several recipients: Received names none"
    blobs = [f for _, _, files in os.walk(os.path.join(t.data_dir, "blobs")) for f in files]
    assert len(blobs) == 1, blobs


def test_aliases_multiple_targets_catchall_and_subaddress(make_tern):
    t = make_tern()
    t.cli("alias", "add", "team@example.test", "alice@example.test,bob@example.test")
    t.cli("alias", "add", "@other.test", "bob@example.test")
    s = t.smtp()
    s.sendmail("x@remote.example", ["team@example.test"], message("to team"))
    s.sendmail("x@remote.example", ["nobody-in-particular@other.test"], message("catch all"))
    s.sendmail("x@remote.example", ["alice+lists@example.test"], message("subaddress"))
    s.sendmail("x@remote.example", ["carol@other.test"], message("real account beats catch-all"))
    s.quit()
    alice = b"".join(t.bodies("alice@example.test"))
    bob = b"".join(t.bodies("bob@example.test"))
    carol = b"".join(t.bodies("carol@other.test"))
    assert b"Subject: to team" in alice and b"Subject: to team" in bob
    assert b"Subject: catch all" in bob and b"Subject: catch all" not in alice
    assert b"Subject: subaddress" in alice
    assert b"Subject: real account beats catch-all" in carol
    assert b"Subject: real account beats catch-all" not in bob


def test_recipient_case_insensitive(tern):
    s = tern.smtp()
    s.sendmail("x@remote.example", ["Alice@EXAMPLE.test"], message("case folding"))
    s.quit()
    assert any(b"Subject: case folding" in m for m in tern.bodies("alice@example.test"))


def test_postmaster_is_always_accepted(make_tern):
    t = make_tern(postmaster="bob@example.test")
    t.cli("alias", "add", "postmaster@other.test", "carol@other.test")
    s = t.smtp()
    # no account or alias: the configured postmaster
    s.sendmail("", ["postmaster@example.test"], message("pm example"))
    # an alias of that name wins
    s.sendmail("", ["postmaster@other.test"], message("pm other"))
    # RFC 5321 bare <Postmaster>
    code, _ = s.docmd("MAIL FROM:<>")
    assert code == 250
    code, text = s.docmd("RCPT TO:<Postmaster>")
    assert code == 250, text
    s.rset()
    s.sendmail("", ["Postmaster"], message("pm bare"))
    s.quit()
    assert any(b"Subject: pm example" in m for m in t.bodies("bob@example.test"))
    assert any(b"Subject: pm other" in m for m in t.bodies("carol@other.test"))
    assert any(b"Subject: pm bare" in m for m in t.bodies("bob@example.test"))


def test_postmaster_without_any_setup(make_tern):
    """RFC 5321 §4.5.1 needs no configuration: bare <postmaster> and postmaster@
    every domain are accepted and delivered even with no postmaster key, alias
    or account (to the oldest account: the operator's, on a small server)."""
    t = make_tern()
    s = t.smtp()
    for rcpt in ("postmaster", "POSTMASTER", "postmaster@example.test", "postmaster@other.test"):
        code, text = s.docmd("MAIL FROM:<>")
        assert code == 250
        code, text = s.docmd("RCPT TO:<%s>" % rcpt)
        assert code == 250, (rcpt, text)
        s.rset()
    s.sendmail("", ["postmaster"], message("bare pm"))
    s.sendmail("", ["postmaster@other.test"], message("other pm"))
    assert any(b"Subject: bare pm" in m for m in t.bodies("alice@example.test"))   # the host's domain
    assert any(b"Subject: other pm" in m for m in t.bodies("carol@other.test"))    # that domain's own
    assert "no postmaster set up" in t.log()
    # an alias postmaster@ the host's domain is where the bare form goes
    t.cli("alias", "add", "postmaster@example.test", "bob@example.test")
    s.sendmail("", ["postmaster"], message("bare pm alias"))
    s.quit()
    assert any(b"Subject: bare pm alias" in m for m in t.bodies("bob@example.test"))
    assert not any(b"Subject: bare pm alias" in m for m in t.bodies("alice@example.test"))
    # still nobody else: an unknown local user is refused
    r = t.raw()
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<x@remote.example>")
    code, text = r.cmd("RCPT TO:<postmistress@example.test>")
    assert code == 550
    r.close()


def test_alias_with_one_target_over_quota(make_tern):
    """An alias whose one target is full still reaches the others (logged), as
    Postfix's local(8) does; only an alias whose every target is full gets 452."""
    t = make_tern()
    t.cli("alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
    t.cli("user", "quota", "bob@example.test", "--messages", "1")
    s = t.smtp()
    s.sendmail("x@remote.example", ["bob@example.test"], message("fills bob"))
    # at RCPT: bob is known to be full already
    refused = s.sendmail("x@remote.example", ["team@example.test"], message("team one"))
    assert refused == {}
    assert any(b"Subject: team one" in m for m in t.bodies("alice@example.test"))
    assert not any(b"Subject: team one" in m for m in t.bodies("bob@example.test"))
    assert "alias target over quota" in t.log()
    # at commit: the declared size passes, the real one does not fit bob's storage
    t.cli("user", "quota", "bob@example.test", "--messages", "0", "--storage", "8K")
    big = message("team big", body=("x" * 70 + "\r\n") * 300)
    assert s.docmd("MAIL FROM:<x@remote.example>")[0] == 250     # no SIZE=
    assert s.docmd("RCPT TO:<team@example.test>")[0] == 250
    assert s.data(big)[0] == 250
    assert any(b"Subject: team big" in m for m in t.bodies("alice@example.test"))
    assert not any(b"Subject: team big" in m for m in t.bodies("bob@example.test"))
    assert "recipient over quota, skipped" in t.log()
    # every target full: the RCPT is refused with 452, nothing stored
    t.cli("user", "quota", "alice@example.test", "--messages", "1")
    t.cli("user", "quota", "bob@example.test", "--messages", "1")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        s.sendmail("x@remote.example", ["team@example.test"], message("team none"))
    assert e.value.recipients["team@example.test"][0] == 452
    s.quit()
    assert len(t.messages("alice@example.test")) == 2 and len(t.messages("bob@example.test")) == 1


def test_null_sender_accepted(tern):
    s = tern.smtp()
    s.sendmail("", ["bob@example.test"], message("bounce"))
    s.quit()
    stored = [m for m in tern.bodies("bob@example.test") if b"Subject: bounce" in m]
    assert stored and stored[0].startswith(b"Return-Path: <>\r\n")


def test_unknown_local_user(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<x@remote.example>")
    code, text = r.cmd("RCPT TO:<nosuchuser@example.test>")
    assert code == 550 and text.startswith("5.1.1")
    r.close()


def test_relay_denied(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<x@remote.example>")[0] == 250
    for rcpt in ("victim@elsewhere.example",
                 "victim%elsewhere.example@example.test",
                 "elsewhere.example!victim@example.test",
                 '"victim@elsewhere.example"@example.test',
                 "@example.test:victim@elsewhere.example",
                 "@example.test,@example.test:alice@example.test",
                 "alice@[127.0.0.1]"):
        code, text = r.cmd("RCPT TO:<%s>" % rcpt)
        assert (code, text[:5]) == (554, "5.7.1"), (rcpt, code, text)
        assert "Relay access denied" in text
    r.close()


def test_vrfy_expn_help_noop_rset(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    for who in ("alice@example.test", "nosuchuser@example.test", "alice"):
        code, text = r.cmd("VRFY " + who)
        assert code == 252 and text.startswith("2.5.2"), text
    assert r.cmd("EXPN staff")[0] == 502
    assert r.cmd("HELP")[0] == 214
    assert r.cmd("NOOP")[0] == 250
    r.cmd("MAIL FROM:<x@remote.example>")
    assert r.cmd("RSET")[0] == 250
    # the transaction is gone: RCPT needs a new MAIL
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 503
    code, text = r.cmd("QUIT")
    assert code == 221
    assert r.closed_by_server()


def test_pipelining_whole_transaction_in_one_write(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    r.send("MAIL FROM:<p@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nosuchuser@example.test>\r\n"
           "RCPT TO:<bob@example.test>\r\nDATA\r\n")
    codes = [r.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 550, 250, 354]
    r.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert any(b"Subject: pipelined" in m for m in tern.bodies("bob@example.test"))


def test_dsn_parameters_accepted(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<d@remote.example> RET=HDRS ENVID=abc+2Bdef SIZE=100 BODY=8BITMIME")[0] == 250
    code, text = r.cmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test")
    assert code == 250, text
    assert r.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER")[0] == 250
    assert r.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER,SUCCESS")[0] == 501
    assert r.cmd("RCPT TO:<bob@example.test> FOO=BAR")[0] == 555
    r.cmd("RSET")
    r.close()


def test_smtputf8_and_8bitmime(tern):
    s = tern.smtp()
    msg = ("From: ü@remote.example\r\nTo: alice@example.test\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\n"
           "Grüße aus Köln\r\n").encode("utf-8")
    s.sendmail("jürgen@bücher.example", ["alice@example.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    # without SMTPUTF8 a UTF-8 address is refused
    code, text = s.docmd("MAIL FROM:<jürgen@bücher.example>")
    assert code == 553 and text.startswith(b"5.6.7")
    s.quit()
    stored = [m for m in tern.bodies("alice@example.test") if "Grüße aus Köln".encode() in m]
    assert stored
    assert stored[0].startswith("Return-Path: <jürgen@xn--bcher-kva.example>".encode())
    assert b" with UTF8SMTP id " in stored[0]


def test_smtplib_send_message_roundtrip(tern):
    from email.message import EmailMessage
    m = EmailMessage()
    m["From"] = "sender@remote.example"
    m["To"] = "bob@example.test"
    m["Subject"] = "email package"
    m.set_content("plain text\n")
    m.add_attachment(b"\x00\x01binary" * 100, maintype="application", subtype="octet-stream", filename="b.bin")
    wire = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
    s = tern.smtp()
    s.sendmail(m["From"], [m["To"]], wire)
    s.quit()
    stored = [x for x in tern.bodies("bob@example.test") if b"Subject: email package" in x]
    assert len(stored) == 1
    assert stored[0].endswith(wire)


def test_swaks_delivery(tern, tmp_path):
    import subprocess
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["smtp"], "--to", "bob@example.test",
                        "--from", "swaks@remote.example", "--header", "Subject: via swaks", "--body", "hi from swaks"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<-  250 2.0.0 Ok: queued as" in r.stdout
    assert any(b"Subject: via swaks" in m for m in tern.bodies("bob@example.test"))
