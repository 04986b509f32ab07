"""
SPF, DKIM and DMARC on the MX port (src/smtp/mailauth.c), against a real
DNS server (NSD, dnsserver.py) publishing the senders' records, with
messages signed by dkimpy (python3-dkim):

- the verdicts reach the stored message as Received-SPF and
  Authentication-Results (RFC 8601) fields under our authserv-id, after
  our Received field; a forged Authentication-Results claiming our id is
  removed, one of another server's is kept;
- SPF -all fail refuses the message at end of data with 550 5.7.23, and
  a temporary DNS failure gives 451 4.7.24, never a silent pass;
- DMARC p=reject refuses unaligned mail with 550 5.7.26; aligned DKIM or
  SPF passes; p=quarantine files it into Junk; `junk_instead` files a
  domain's refusals into Junk; sp= governs subdomains;
- the submission port is not checked (and gets its own fix-ups:
  Message-ID and Date added when missing, Bcc removed, a Received field
  without the client's address).
"""
import os
import re
import smtplib

import pytest

from conftest import message

try:
    import dkim                 # python3-dkim (dkimpy)
except ImportError:
    if os.environ.get("TERN_REQUIRE_CLIENTS"):
        raise
    pytest.skip("python3-dkim not installed", allow_module_level=True)

ON = {"spf": "yes", "dkim": "yes", "dmarc": "yes"}


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkey")
    key = d / "key.pem"
    os.system("openssl genrsa -out %s 2048 2>/dev/null" % key)
    pub = os.popen("openssl rsa -in %s -pubout -outform DER 2>/dev/null | base64 -w0" % key).read().strip()
    return key.read_bytes(), pub


def txt(name, text):
    return "%s TXT %s" % (name, " ".join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255)))


@pytest.fixture
def mx(make_dns, make_tern, rsa_key):
    _, pub = rsa_key
    dns = make_dns({
        "good.test": [txt("@", "v=spf1 ip4:127.0.0.1 -all"), txt("_dmarc", "v=DMARC1; p=reject"),
                      txt("s1._domainkey", "v=DKIM1; k=rsa; p=" + pub)],
        "forged.test": [txt("@", "v=spf1 -all"), txt("_dmarc", "v=DMARC1; p=reject")],
        "strict.test": [txt("@", "v=spf1 ?all"), txt("_dmarc", "v=DMARC1; p=reject; sp=quarantine"),
                        txt("s1._domainkey", "v=DKIM1; k=rsa; p=" + pub)],
        "quar.test": [txt("@", "v=spf1 ?all"), txt("_dmarc", "v=DMARC1; p=quarantine")],
        "nopolicy.test": [txt("@", "v=spf1 ?all")],
    })

    def factory(**mailauth):
        m = dict(ON)
        m.update(mailauth)
        return make_tern(dns={"nameservers": dns.nameservers}, mailauth=m)
    return factory


def signed(rsa_key, msg, domain, selector=b"s1"):
    key, _ = rsa_key
    raw = msg.encode()
    sig = dkim.sign(raw, selector, domain.encode(), key, include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + raw


def send(t, sender, msg, rcpt="alice@example.test", helo="client.good.test"):
    s = t.smtp(ehlo=False)
    s.ehlo(helo)
    try:
        s.sendmail(sender, [rcpt], msg if isinstance(msg, bytes) else msg.encode())
        return 250, ""
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode()
    finally:
        s.quit()


def stored(t, address="alice@example.test", mailbox="INBOX"):
    rows = t.messages(address, mailbox)
    assert rows, "no message in %s of %s\n%s" % (mailbox, address, t.log())
    return t.cat(address, rows[-1][0], mailbox).decode()


def header_block(raw):
    return raw.split("\r\n\r\n", 1)[0]


def auth_results(raw):
    """Authentication-Results fields, unfolded."""
    head = re.sub(r"\r\n[ \t]+", " ", header_block(raw))
    return [line.split(":", 1)[1].strip() for line in head.split("\r\n")
            if line.lower().startswith("authentication-results:")]


def test_spf_pass_dkim_pass_dmarc_pass_recorded(mx, rsa_key):
    t = mx()
    code, _ = send(t, "news@good.test", signed(rsa_key, message("ok", frm="news@good.test"), "good.test"))
    assert code == 250
    raw = stored(t)
    head = header_block(raw)
    # our Received first, then the verdicts, then the message's own fields
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]
    assert names[:4] == ["Return-Path", "Received", "Received-SPF", "Authentication-Results"], names
    assert re.search(r"^Received-SPF: pass ", head, re.M)
    ar = auth_results(raw)
    assert len(ar) == 1
    assert ar[0].startswith("mx.example.test;"), ar
    assert "spf=pass smtp.mailfrom=news@good.test" in ar[0]
    assert re.search(r"dkim=pass header\.d=good\.test header\.s=s1", ar[0]), ar
    assert "dmarc=pass (p=reject dis=none) header.from=good.test" in ar[0]
    assert re.search(r"msg=mailauth .*spf=pass .*dmarc=pass", t.log())


def test_spf_fail_refused_at_end_of_data(mx):
    t = mx()
    code, text = send(t, "ceo@forged.test", message("pay", frm="ceo@forged.test"), helo="client.example.net")
    assert code == 550 and text.startswith("5.7.23"), (code, text)
    assert "forged.test" in text
    assert not t.messages("alice@example.test")
    assert re.search(r"msg=rejected .*code=550 reason=\"?spf fail", t.log())


def test_spf_temperror_is_451(mx):
    t = mx()
    # unknown.invalid-zone.test is not served: the DNS server refuses, the resolver reports TEMPFAIL
    code, text = send(t, "x@elsewhere.test", message("later", frm="x@elsewhere.test"))
    assert code == 451 and text.startswith("4.7.24"), (code, text)
    assert not t.messages("alice@example.test")


def test_dmarc_reject_unaligned(mx, rsa_key):
    t = mx(spf="yes")
    # SPF passes for the envelope domain good.test, but the From domain is strict.test (p=reject), unsigned
    code, text = send(t, "bounce@good.test", message("spoof", frm="boss@strict.test"))
    assert code == 550 and text.startswith("5.7.26"), (code, text)
    assert "strict.test" in text


def test_dmarc_pass_by_aligned_dkim_only(mx, rsa_key):
    t = mx()
    msg = signed(rsa_key, message("signed", frm="boss@strict.test"), "strict.test")
    code, _ = send(t, "bounce@good.test", msg)
    assert code == 250
    ar = auth_results(stored(t))[0]
    assert "dmarc=pass" in ar and "header.from=strict.test" in ar


def test_dmarc_subdomain_policy_quarantines(mx):
    t = mx()
    code, _ = send(t, "bounce@good.test", message("sub", frm="news@mail.strict.test"))
    assert code == 250
    assert not t.messages("alice@example.test")
    raw = stored(t, mailbox="Junk")
    assert "dmarc=fail (p=quarantine dis=quarantine) header.from=mail.strict.test" in auth_results(raw)[0]


def test_dmarc_quarantine_goes_to_junk(mx):
    t = mx()
    code, _ = send(t, "x@quar.test", message("maybe", frm="x@quar.test"))
    assert code == 250
    assert not t.messages("alice@example.test")
    assert "Subject: maybe" in stored(t, mailbox="Junk")
    assert "filed as junk" in t.log()


def test_junk_instead_of_refusal_per_domain(mx):
    t = mx(junk_instead="example.test")
    code, _ = send(t, "ceo@forged.test", message("pay", frm="ceo@forged.test"), helo="client.example.net")
    assert code == 250
    raw = stored(t, mailbox="Junk")
    assert re.search(r"^Received-SPF: fail ", raw, re.M)
    # a domain not listed still refuses
    code, text = send(t, "ceo@forged.test", message("pay", frm="ceo@forged.test"), rcpt="carol@other.test",
                      helo="client.example.net")
    assert code == 550 and text.startswith("5.7.23")


def test_no_dmarc_record_is_none(mx):
    t = mx()
    code, _ = send(t, "x@nopolicy.test", message("plain", frm="x@nopolicy.test"))
    assert code == 250
    ar = auth_results(stored(t))[0]
    assert "spf=neutral" in ar and "dkim=none" in ar and "dmarc=none header.from=nopolicy.test" in ar


def test_forged_authentication_results_removed(mx):
    t = mx()
    extra = ("Authentication-Results: mx.example.test; dkim=pass header.d=bank.example\r\n"
             "Authentication-Results: MX.EXAMPLE.TEST;\r\n\tspf=pass smtp.mailfrom=bank.example\r\n"
             "Authentication-Results: other.example; spf=fail\r\n")
    code, _ = send(t, "x@nopolicy.test", message("forged ar", frm="x@nopolicy.test", extra=extra))
    assert code == 250
    ar = auth_results(stored(t))
    assert len(ar) == 2, ar
    assert ar[0].startswith("mx.example.test;") and "bank.example" not in ar[0]
    assert ar[1] == "other.example; spf=fail"
    assert "removed an Authentication-Results field" in t.log()


def test_checks_off(mx):
    t = mx(spf="no", dkim="no", dmarc="no")
    code, _ = send(t, "ceo@forged.test", message("pay", frm="ceo@forged.test"))
    assert code == 250
    assert not auth_results(stored(t))


def test_big_message_rewritten_on_disk(mx):
    """Past the spool's memory buffer the trace fields go in through a new spool file."""
    t = mx()
    body = ("x" * 998 + "\r\n") * 200
    extra = "Authentication-Results: mx.example.test; dmarc=pass\r\n"
    code, _ = send(t, "x@nopolicy.test", message("big", frm="x@nopolicy.test", body=body, extra=extra))
    assert code == 250
    raw = stored(t)
    assert len(auth_results(raw)) == 1 and "dmarc=none" in auth_results(raw)[0]
    assert raw.endswith(body)


def test_submission_is_not_checked_and_fixed_up(mx):
    t = mx()
    s = t.submission()
    msg = ("From: alice@example.test\r\nTo: bob@example.test\r\nBcc: secret@example.test\r\n"
           "BCC :\r\n\tother-secret@example.test\r\n"
           "Subject: no ids\r\n\r\nhello\r\n")
    s.sendmail("alice@example.test", ["bob@example.test"], msg.encode())
    s.quit()
    raw = stored(t, "bob@example.test")
    head = header_block(raw)
    assert not auth_results(raw)
    assert "Received-SPF" not in head
    assert re.search(r"^Message-ID: <\d{14}\.\w+\.\w+@mx\.example\.test>\r?$", head, re.M), head
    assert re.search(r"^Date: \w{3}, \d{1,2} \w{3} \d{4} ", head, re.M), head
    assert "Bcc" not in head and "secret@" not in head
    received = re.search(r"^Received: .*?(?=\r\n\S)", head, re.M | re.S).group(0)
    assert "Authenticated sender: alice@example.test" in received
    assert "127.0.0.1" not in received
