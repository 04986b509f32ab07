"""Submission (587 STARTTLS, 465 implicit TLS): AUTH, sender ownership, the outbound queue."""
import base64
import smtplib
import subprocess
import time

import pytest

from conftest import client_tls_context, message

PW = "secret-" + "pw"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def test_auth_not_offered_and_refused_before_tls(tern):
    r = tern.raw("submission")
    r.send("EHLO c.example\r\n")
    code, lines = r.reply()
    assert not any(l.upper().startswith("AUTH") for l in lines)
    assert any(l.upper() == "STARTTLS" for l in lines)
    code, text = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    assert (code, text[:6]) == (538, "5.7.11")
    code, text = r.cmd("MAIL FROM:<alice@example.test>")
    assert (code, text[:5]) == (530, "5.7.0")
    r.close()


def test_auth_plain_and_login_after_starttls(tern):
    r = tern.raw("submission")
    r.cmd("EHLO c.example")
    r.starttls()
    r.send("EHLO c.example\r\n")
    code, lines = r.reply()
    assert "AUTH PLAIN LOGIN" in lines
    code, text = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    assert (code, text[:5]) == (235, "2.7.0")
    assert r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))[0] == 503
    r.close()

    r = tern.raw("submission")
    r.cmd("EHLO c.example")
    r.starttls()
    r.cmd("EHLO c.example")
    code, text = r.cmd("AUTH LOGIN")
    assert code == 334 and base64.b64decode(text) == b"Username:"
    code, text = r.cmd(b64("bob@example.test"))
    assert code == 334 and base64.b64decode(text) == b"Password:"
    code, text = r.cmd(b64(PW))
    assert code == 235
    r.close()

    # PLAIN without initial response: empty challenge
    r = tern.raw("submissions")
    r.cmd("EHLO c.example")
    code, text = r.cmd("AUTH PLAIN")
    assert code == 334 and text == ""
    assert r.cmd(b64("\0bob@example.test\0" + PW))[0] == 235
    r.close()


def test_auth_cancel_unknown_mechanism_and_garbage(tern):
    r = tern.raw("submissions")
    r.cmd("EHLO c.example")
    code, text = r.cmd("AUTH CRAM-MD5")
    assert (code, text[:5]) == (504, "5.5.4")
    assert r.cmd("AUTH LOGIN")[0] == 334
    code, text = r.cmd("*")
    assert code == 501
    code, text = r.cmd("AUTH PLAIN !!!notbase64")
    assert code == 501
    r.close()


def test_no_auth_on_mx_port(tern):
    r = tern.raw("smtp")
    r.cmd("EHLO c.example")
    r.starttls()
    r.cmd("EHLO c.example")
    code, text = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    assert code == 503
    r.close()


def fail_auth(t, user, password, source=None):
    r = t.raw("submissions", source=source)
    r.cmd("EHLO c.example")
    started = time.time()
    code, text = r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (user, password)))
    elapsed = time.time() - started
    r.close()
    return code, text, elapsed


def test_bad_credentials_same_answer_and_growing_delay(make_tern):
    t = make_tern(auth={"failure_delay": "200ms", "max_failure_delay": "5s"})
    answers = []
    delays = []
    for user in ("alice@example.test", "nosuch@example.test", "alice@example.test", "nosuch@nowhere.example"):
        code, text, elapsed = fail_auth(t, user, "wrong")
        answers.append((code, text))
        delays.append(elapsed)
    assert all(a == (535, "5.7.8 Authentication credentials invalid") for a in answers), answers
    # 200ms, 400ms, 800ms, 1.6s (per client IP) — each at least the last
    assert delays[0] >= 0.18 and delays[2] >= 0.75 and delays[3] >= 1.5, delays
    assert delays[3] > delays[1] > delays[0], delays
    # the right password still works (and resets the counters)
    s = t.submission(role="submissions")
    s.quit()
    _, _, elapsed = fail_auth(t, "bob@example.test", "wrong")
    assert elapsed < 0.6


def test_delay_grows_per_account_across_addresses(make_tern):
    """Guessing one account's password from many addresses still slows down."""
    t = make_tern(auth={"failure_delay": "200ms", "max_failure_delay": "5s"})
    delays = [fail_auth(t, "bob@example.test", "wrong", source="127.0.0.%d" % (10 + i))[2] for i in range(4)]
    assert delays[3] >= 1.5 and delays[2] >= 0.75, delays
    # another account from a fresh address is not slowed by bob's counter
    _, _, elapsed = fail_auth(t, "alice@example.test", "wrong", source="127.0.0.30")
    assert elapsed < 0.6, elapsed


def test_password_never_logged(make_tern):
    t = make_tern(log_level="debug")
    s = t.submission()
    s.quit()
    fail_auth(t, "alice@example.test", "Hunter2-wrong")
    log = t.log()
    assert "msg=\"auth ok\" user=alice@example.test" in log
    for secret in (PW, "Hunter2-wrong", b64("\0alice@example.test\0" + PW)):
        assert secret not in log


def test_sender_must_be_owned(make_tern):
    t = make_tern()
    t.cli("alias", "add", "sales@example.test", "alice@example.test")
    t.cli("alias", "add", "@example.test", "alice@example.test")
    s = t.submission()
    for ok in ("alice@example.test", "Alice@Example.Test", "alice+news@example.test", "sales@example.test"):
        code, text = s.docmd("MAIL FROM:<%s>" % ok)
        assert code == 250, (ok, text)
        s.rset()
    for bad in ("bob@example.test", "ceo@example.test", "alice@other.test", "someone@remote.example"):
        code, text = s.docmd("MAIL FROM:<%s>" % bad)
        assert (code, text[:5]) == (553, b"5.7.1"), (bad, code, text)
    s.quit()


def test_local_delivery_and_remote_queued(make_tern):
    t = make_tern()
    s = t.submission()
    s.sendmail("alice@example.test", ["bob@example.test", "friend@remote.example"],
               message("mixed", frm="alice@example.test"),
               mail_options=["RET=HDRS", "ENVID=env42"], rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
    s.quit()
    stored = [m for m in t.bodies("bob@example.test") if b"Subject: mixed" in m]
    assert len(stored) == 1
    assert b" with ESMTPSA id " in stored[0]
    q = t.cli("queue", "list").stdout
    assert "friend@remote.example" in q and "alice@example.test" in q, q
    assert "notify=SUCCESS,FAILURE ret=HDRS envid=env42" in q, q
    assert "bob@example.test" not in q
    assert "msg=accepted" in t.log()


def test_relay_only_when_authenticated(tern):
    r = tern.raw("smtp")
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<alice@example.test>")
    assert r.cmd("RCPT TO:<friend@remote.example>")[0] == 554
    r.close()


def test_submissions_with_smtplib_login(tern):
    s = tern.submission(role="submissions", user="bob@example.test")
    s.sendmail("bob@example.test", ["alice@example.test"], message("from bob over 465", frm="bob@example.test"))
    s.quit()
    assert any(b"Subject: from bob over 465" in m for m in tern.bodies("alice@example.test"))


def test_swaks_starttls_auth(tern):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["submission"], "-tls",
                        "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", PW,
                        "--from", "alice@example.test", "--to", "bob@example.test",
                        "--header", "Subject: swaks submission"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout
    assert any(b"Subject: swaks submission" in m for m in tern.bodies("bob@example.test"))


def test_allow_plaintext_permits_auth_without_tls(make_tern):
    t = make_tern(auth={"allow_plaintext": "yes"})
    r = t.raw("submission")
    r.send("EHLO c.example\r\n")
    code, lines = r.reply()
    assert "AUTH PLAIN LOGIN" in lines
    code, text = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    assert code == 235, text
    assert r.cmd("MAIL FROM:<alice@example.test>")[0] == 250
    r.close()
