"""
DMARC aggregate reports (RFC 7489 §7.2) sent by tern as a receiver, with
a real DNS server (NSD, dnsserver.py) publishing the senders' SPF and
_dmarc records and the §7.1 authorisations of external destinations:

- mail received on the MX port from two source addresses is counted per
  (source, identifiers, results) in memory and flushed to the store when
  the server stops (and every minute); `tern dmarc report list` shows it;
- `tern dmarc report send` mails one report per policy domain: Subject
  "Report Domain: D Submitter: S Report-ID: <ID>", an application/gzip
  attachment receiver!domain!begin!end.xml.gz whose XML has the counts,
  dispositions and results;
- a rua destination outside the policy domain gets the report only when
  it publishes <domain>._report._dmarc.<its domain>: the unauthorised
  one gets nothing (not mailed locally, nothing queued).
"""
import email
import email.policy
import gzip
import re
import smtplib
import xml.etree.ElementTree as ET

from conftest import message


def txt(name, text):
    return '%s TXT "%s"' % (name, text)


RUA = "mailto:alice@example.test,mailto:rua@far.test"


def send(t, sender, frm, source="127.0.0.1", rcpt="carol@other.test"):
    s = smtplib.SMTP("127.0.0.1", t.ports["smtp"], source_address=(source, 0), timeout=10)
    try:
        s.ehlo("client.good.test")
        s.sendmail(sender, [rcpt], message("hello", frm=frm).encode())
    finally:
        s.quit()


def reports(t, address):
    out = []
    for row in t.messages(address):
        raw = t.cat(address, row[0])
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if str(msg["Subject"]).startswith("Report Domain:"):
            out.append(msg)
    return out


def test_aggregate_reports(make_tern, make_dns):
    dns = make_dns({
        "good.test": [txt("@", "v=spf1 ip4:127.0.0.1 ~all"),
                      txt("_dmarc", "v=DMARC1; p=none; rua=" + RUA)],
        "quar.test": [txt("@", "v=spf1 ?all"), txt("_dmarc", "v=DMARC1; p=quarantine; rua=mailto:alice@example.test")],
        "noauth.test": [txt("@", "v=spf1 ?all"), txt("_dmarc", "v=DMARC1; p=none; rua=mailto:bob@example.test")],
        "example.test": [txt("good.test._report._dmarc", "v=DMARC1"), txt("quar.test._report._dmarc", "v=DMARC1")],
        "far.test": [txt("@", "v=spf1 -all")],
    })
    mailauth = {"spf": "yes", "dkim": "yes", "dmarc": "yes"}
    t = make_tern(dns={"nameservers": dns.nameservers}, mailauth=mailauth)
    send(t, "news@good.test", "news@good.test")
    send(t, "news@good.test", "news@good.test")
    send(t, "news@good.test", "news@good.test", source="127.0.0.2")    # SPF softfail: DMARC fails, p=none
    send(t, "x@quar.test", "x@quar.test")                                # unaligned: quarantine
    send(t, "x@noauth.test", "x@noauth.test")
    assert t.stop() == 0            # the loops flush their counts when they stop
    listed = {tuple(line.split("\t")[1:]) for line in t.cli("dmarc", "report", "list").stdout.splitlines()}
    assert listed == {("good.test", "3"), ("quar.test", "1"), ("noauth.test", "1")}, listed

    t.start()
    out = t.cli("dmarc", "report", "send").stdout
    assert out.startswith("done: 3 "), out
    assert t.cli("dmarc", "report", "list").stdout == ""
    t.wait_log(r"dmarcrpt.*report mailed.*domain=quar\.test")

    got = {str(m["Subject"]).split()[2]: m for m in reports(t, "alice@example.test")}
    assert set(got) == {"good.test", "quar.test"}, (got, t.log())
    assert not reports(t, "bob@example.test")       # noauth.test did not authorise example.test
    assert "far.test" not in t.cli("queue", "list").stdout
    assert re.search(r"not authorised.*domain=good\.test to=<rua@far\.test>", t.log())

    m = got["good.test"]
    subject = re.sub(r"\s+", " ", str(m["Subject"]))
    assert re.fullmatch(r"Report Domain: good\.test Submitter: mx\.example\.test Report-ID: <[^>]+>", subject), subject
    att = [p for p in m.iter_attachments()][0]
    assert att.get_content_type() == "application/gzip"
    assert re.fullmatch(r"mx\.example\.test!good\.test!\d+!\d+\.xml\.gz", att.get_filename()), att.get_filename()
    begin, end = map(int, att.get_filename()[:-len(".xml.gz")].split("!")[2:4])
    assert end - begin == 86399
    root = ET.fromstring(gzip.decompress(att.get_content()))
    assert root.findtext("report_metadata/org_name") == "mx.example.test"
    assert root.findtext("report_metadata/email") == "postmaster@mx.example.test"
    assert root.findtext("report_metadata/date_range/begin") == str(begin)
    assert root.findtext("policy_published/domain") == "good.test"
    assert root.findtext("policy_published/p") == "none"
    assert root.findtext("policy_published/pct") == "100"
    recs = {r.findtext("row/source_ip"): r for r in root.findall("record")}
    assert set(recs) == {"127.0.0.1", "127.0.0.2"}
    a, b = recs["127.0.0.1"], recs["127.0.0.2"]
    assert a.findtext("row/count") == "2"
    assert a.findtext("row/policy_evaluated/disposition") == "none"
    assert a.findtext("row/policy_evaluated/spf") == "pass"
    assert a.findtext("row/policy_evaluated/dkim") == "fail"
    assert a.findtext("identifiers/header_from") == "good.test"
    assert a.findtext("identifiers/envelope_from") == "good.test"
    assert a.findtext("auth_results/spf/domain") == "good.test"
    assert a.findtext("auth_results/spf/result") == "pass"
    assert b.findtext("row/count") == "1"
    assert b.findtext("row/policy_evaluated/spf") == "fail"
    assert b.findtext("auth_results/spf/result") == "softfail"

    q = ET.fromstring(gzip.decompress([p for p in got["quar.test"].iter_attachments()][0].get_content()))
    assert q.findtext("policy_published/p") == "quarantine"
    assert q.findtext("record/row/policy_evaluated/disposition") == "quarantine"
    assert q.findtext("record/auth_results/spf/result") == "neutral"


def test_cli_arguments(make_tern):
    t = make_tern()
    assert t.cli("dmarc", "report", "list").stdout == ""
    r = t.cli("dmarc", "report", "send", "--day", "2026-02-30", check=False)
    assert r.returncode == 1
    r = t.cli("dmarc", "frob", check=False)
    assert r.returncode == 1


def test_disabled_collects_nothing(make_tern, make_dns):
    dns = make_dns({"good.test": [txt("@", "v=spf1 ip4:127.0.0.1 -all"),
                                  txt("_dmarc", "v=DMARC1; p=none; rua=mailto:alice@example.test")]})
    t = make_tern(dns={"nameservers": dns.nameservers},
                  mailauth={"spf": "yes", "dkim": "yes", "dmarc": "yes", "dmarc_reports": "no"})
    send(t, "news@good.test", "news@good.test")
    assert t.stop() == 0
    assert t.cli("dmarc", "report", "list").stdout == ""
