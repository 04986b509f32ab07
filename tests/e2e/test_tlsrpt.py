"""SMTP TLS Reporting (RFC 8460) as a sending MTA, end to end.

tern delivers to two MTA-STS domains (NSD for DNS, httpsserver.py's CA
and policy host, aiosmtpd peers): remote.test, whose MX presents a
certificate of the trusted CA (delivered: a successful session), and
broken.test, whose MX presents one of another CA (deferred 4.7.5: failed
sessions, certificate-not-trusted).  Each publishes _smtp._tls: remote.test
with rua=mailto: to a local tern account, broken.test with rua=https: to
an HTTPS server of this file that records what is POSTed.  `tern tlsrpt
list` shows the counts, `tern tlsrpt send` has the running server report
now; the report mail (RFC 8460 §5.3: multipart/report, Subject,
TLS-Report-* headers, the attachment and its name) is read back with
`tern mail cat`, and both reports' JSON (§4), once gunzipped, is parsed
strictly and checked.
"""
import calendar
import email
import email.policy
import gzip
import http.server
import json
import re
import socketserver
import ssl
import threading
import time

import pytest

from conftest import free_port
from deliveryutil import ca  # noqa: F401 (a fixture)
from deliveryutil import FAST, submit, wait_deferred, wait_inbox, wait_queue_empty
from httpsserver import HTTPSServer
from smtppeer import client_tls_context

WEB_IP = "127.0.0.48"
REPORT_IP = "127.0.0.49"
PATH = "/.well-known/mta-sts.txt"
REPORTS = "tlsrpt@example.test"
SUBMITTER = "mx.example.test"       # the tern's hostname (conftest)
# MTA-STS "testing" domains: MX address, the MX label the policy lists, the MX's certificate
# ("untrusted": another CA's; else the good CA's for that label), and the result-type expected.
TESTING = {
    "testok.test": ("127.0.0.40", "mx", "mx", None),
    "testca.test": ("127.0.0.41", "mx", "untrusted", "certificate-not-trusted"),
    "testname.test": ("127.0.0.42", "mx", "other", "certificate-host-mismatch"),
    "testmx.test": ("127.0.0.43", "mx1", "mx", "validation-failure"),
}


class ReportSink:
    """An HTTPS server that records every POST (path, headers, body) and answers 201."""

    def __init__(self, host, cert, key):
        self.posts = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n else b""
                sink.posts.append((self.path, dict(self.headers.items()), body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, fmt, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = Server((host, 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def strict_json(data):
    """json.loads that refuses duplicate keys and NaN/Infinity: what a strict consumer accepts."""
    def pairs(items):
        keys = [k for k, _ in items]
        assert len(keys) == len(set(keys)), "duplicate key in %r" % keys
        return dict(items)

    def constant(name):
        raise AssertionError("non-JSON constant " + name)
    return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)


def check_common(report, domain):
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert report["organization-name"] == "Tern Test Org"
    assert report["date-range"] == {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"}
    assert report["contact-info"] == "tls-admin@example.test"
    assert re.fullmatch(r"\d{8}\.[A-Za-z0-9]+@" + re.escape(SUBMITTER), report["report-id"])
    assert len(report["policies"]) == 1, report
    pol = report["policies"][0]
    assert pol["policy"]["policy-type"] == "sts"
    assert pol["policy"]["policy-domain"] == domain
    assert "mode: enforce" in pol["policy"]["policy-string"]
    assert pol["policy"]["mx-host"] == ["mx." + domain]
    return pol


@pytest.fixture
def world(make_tern, make_dns, peers, ca):
    good_ca, other_ca = ca
    port = free_port()
    sink = ReportSink(REPORT_IP, *good_ca.issue("tlsrpt.broken.test"))
    dns = make_dns({
        "remote.test": [
            "@ MX 10 mx", "mx A 127.0.0.31",
            '_mta-sts TXT "v=STSv1; id=r1"', "mta-sts A " + WEB_IP,
            '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:%s"' % REPORTS],
        "broken.test": [
            "@ MX 10 mx", "mx A 127.0.0.33",
            '_mta-sts TXT "v=STSv1; id=b1"', "mta-sts A " + WEB_IP,
            '_smtp._tls TXT "v=TLSRPTv1; rua=https://tlsrpt.broken.test:%d/v1/tlsrpt"' % sink.port,
            "tlsrpt A " + REPORT_IP],
        "plain.test": ["@ MX 10 mx", "mx A 127.0.0.34"],   # no policy, no _smtp._tls: nothing is reported
        # A policy announced whose host answers 404: delivered as without one, reported as sts-policy-fetch-error.
        "nofetch.test": [
            "@ MX 10 mx", "mx A 127.0.0.37",
            '_mta-sts TXT "v=STSv1; id=n1"', "mta-sts A " + WEB_IP,
            '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:%s"' % REPORTS],
        # Policies in mode "testing" (see TESTING).
        **{domain: ["@ MX 10 mx", "mx A " + ip, '_mta-sts TXT "v=STSv1; id=t1"', "mta-sts A " + WEB_IP,
                    '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:%s"' % REPORTS]
           for domain, (ip, _, _, _) in TESTING.items()},
    })
    web = HTTPSServer(WEB_IP, {"mta-sts." + d: good_ca.issue("mta-sts." + d)
                               for d in ["remote.test", "broken.test", "nofetch.test"] + list(TESTING)})
    for d in ("remote.test", "broken.test"):
        web.route("mta-sts." + d, PATH, "version: STSv1\nmode: enforce\nmx: mx.%s\nmax_age: 86400\n" % d)
    for d, (ip, listed, cert, _) in TESTING.items():
        web.route("mta-sts." + d, PATH, "version: STSv1\nmode: testing\nmx: %s.%s\nmax_age: 86400\n" % (listed, d))
    good = peers("127.0.0.31", port, tls_context=client_tls_context(*good_ca.issue("mx.remote.test")))
    bad = peers("127.0.0.33", port, tls_context=client_tls_context(*other_ca.issue("mx.broken.test")))
    plain = peers("127.0.0.34", port)
    nofetch = peers("127.0.0.37", port, tls_context=client_tls_context(*good_ca.issue("mx.nofetch.test")))
    delivery = dict(FAST, smtp_port=str(port), mta_sts_port=str(web.port), tls_ca_file=good_ca.cert,
                    tlsrpt_organization="Tern Test Org", tlsrpt_contact="tls-admin@example.test",
                    tlsrpt_from="tlsrpt-noreply@example.test")
    t = make_tern(dns=dns.dns_config(), delivery=delivery)
    t.add_user(REPORTS)
    t.cli("dkim", "keygen", "example.test", "--selector", "rpt")    # report mail is signed with it
    t.nofetch = nofetch
    t.testing = {}
    for d, (ip, listed, cert, _) in TESTING.items():
        issuer, name = (other_ca, "mx." + d) if cert == "untrusted" else (good_ca, cert + "." + d)
        t.testing[d] = peers(ip, port, tls_context=client_tls_context(*issuer.issue(name)))
    yield t, good, bad, plain, sink
    web.stop()
    sink.stop()


def test_reports_by_mail_and_https(world):
    t, good, bad, plain, sink = world
    submit(t, ["far@remote.test"], subject="to the good one")
    good.wait_messages(1, log=t.log)
    submit(t, ["far@plain.test"], subject="to the one without policy")
    plain.wait_messages(1, log=t.log)
    submit(t, ["far@broken.test"], subject="to the broken one")
    t.wait_log(r"to=<far@broken\.test> .*status=deferred", timeout=30)
    rows = wait_deferred(t)
    assert [r[3] for r in rows] == ["far@broken.test"] and rows[0][6].startswith("4.7.5"), rows
    assert bad.messages == []
    # Stop the retries: the counts below stay what they are.
    t.cli("queue", "hold", "all")

    day = time.strftime("%Y-%m-%d", time.gmtime())
    listed = [line.split("\t") for line in t.cli("tlsrpt", "list").stdout.splitlines()]
    by_domain = {r[1]: r for r in listed}
    assert set(by_domain) == {"remote.test", "broken.test", "plain.test"}, listed
    assert by_domain["remote.test"] == [day, "remote.test", "1", "0"]
    # No STARTTLS offered, no policy: a failed session of policy-type no-policy-found.
    assert by_domain["plain.test"] == [day, "plain.test", "0", "1"]
    failures = int(by_domain["broken.test"][3])
    assert by_domain["broken.test"][2] == "0" and failures >= 1

    out = t.cli("tlsrpt", "send").stdout
    assert "done" in out, out
    t.wait_log(r'msg="no report wanted" domain=plain\.test')
    # Rows of a failed delivery still in flight at `hold` may come after the run: reported tomorrow.

    # ---- the mail report (rua=mailto:) ----
    uid = wait_inbox(t, REPORTS, 1)[0][0]
    raw = t.cat(REPORTS, uid)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = " ".join(str(msg["Subject"]).split())
    m = re.fullmatch(r"Report Domain: remote\.test Submitter: (\S+) Report-ID: <(\S+)>", subject)
    assert m and m.group(1) == SUBMITTER, subject
    assert msg["TLS-Report-Domain"] == "remote.test"
    assert msg["TLS-Report-Submitter"] == SUBMITTER
    assert msg["From"] == "<tlsrpt-noreply@example.test>" or "tlsrpt-noreply@example.test" in msg["From"]
    assert raw.startswith(b"Return-Path: <tlsrpt-noreply@example.test>")
    # DKIM-signed with the From domain's key (RFC 8460 §5.3), and it verifies
    assert re.search(rb"^DKIM-Signature: .*d=example\.test;.*s=rpt;", raw, re.M | re.S)
    record = "".join(re.findall(r'"([^"]*)"', t.cli("dkim", "record", "example.test").stdout))
    try:
        import dkim
    except ImportError:
        dkim = None
    if dkim:
        body = raw.split(b"\r\n", 1)[1]      # without our Return-Path
        assert dkim.verify(body, dnsfunc=lambda name, timeout=5: record.encode()), raw[:600]
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/tlsrpt+gzip"]
    att = parts[1]
    name = att.get_filename()
    start = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
    assert re.fullmatch(r"%s!remote\.test!%d!%d!\w+\.json\.gz" % (re.escape(SUBMITTER), start, start + 86399),
                        name), name
    report = strict_json(gzip.decompress(att.get_content()))
    pol = check_common(report, "remote.test")
    assert report["report-id"] == m.group(2)
    assert pol["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
    assert pol["failure-details"] == []

    # ---- the HTTPS report (rua=https:) ----
    deadline = time.time() + 20
    while not sink.posts and time.time() < deadline:
        time.sleep(0.1)
    assert len(sink.posts) == 1, t.log()
    path, headers, body = sink.posts[0]
    assert path == "/v1/tlsrpt"
    assert headers.get("Content-Type") == "application/tlsrpt+gzip"
    report = strict_json(gzip.decompress(body))
    pol = check_common(report, "broken.test")
    # A retry in flight when the queue was held may have added one more.
    summary = pol["summary"]
    assert summary["total-successful-session-count"] == 0
    assert summary["total-failure-session-count"] >= failures
    details = pol["failure-details"]
    assert len(details) == 1, details
    d = details[0]
    assert d["result-type"] == "certificate-not-trusted"
    assert d["receiving-mx-hostname"] == "mx.broken.test"
    assert d["receiving-ip"] == "127.0.0.33"
    assert d["sending-mta-ip"] == "127.0.0.1"
    assert d["failed-session-count"] == summary["total-failure-session-count"]
    t.wait_log(r'msg="report posted" domain=broken\.test')

    # Nothing left but, at most, what a retry in flight at `hold` added afterwards.
    left = [line.split("\t")[1] for line in t.cli("tlsrpt", "list").stdout.splitlines()]
    assert set(left) <= {"broken.test"}, left


def test_sts_fetch_error_report(world):
    t, good, bad, plain, sink = world
    submit(t, ["far@nofetch.test"])
    assert t.nofetch.wait_messages(1, log=t.log)[0].tls     # opportunistic TLS, no policy to enforce
    wait_queue_empty(t)
    t.cli("tlsrpt", "send")
    uid = wait_inbox(t, REPORTS, 1)[0][0]
    msg = email.message_from_bytes(t.cat(REPORTS, uid), policy=email.policy.default)
    assert msg["TLS-Report-Domain"] == "nofetch.test"
    report = strict_json(gzip.decompress(list(msg.iter_parts())[1].get_content()))
    assert len(report["policies"]) == 1, report
    pol = report["policies"][0]
    assert pol["policy"] == {"policy-type": "sts", "policy-domain": "nofetch.test"}
    assert pol["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}
    d = pol["failure-details"][0]
    assert d["result-type"] == "sts-policy-fetch-error"
    assert d["receiving-mx-hostname"] == "mx.nofetch.test" and d["failed-session-count"] == 1


def test_cli_arguments(make_tern):
    t = make_tern()
    assert t.cli("tlsrpt", "list").stdout == ""
    assert t.cli("tlsrpt", "send").stdout.strip() == "nothing to report"
    r = t.cli("tlsrpt", "send", "--day", "2026-02-30", check=False)
    assert r.returncode == 1 and "invalid day" in r.stderr
    r = t.cli("tlsrpt", "frob", check=False)
    assert r.returncode == 1


def test_disabled_collects_nothing(make_tern, make_dns, peers):
    port = free_port()
    dns = make_dns({"plain.test": ["@ MX 10 mx", "mx A 127.0.0.34"]})
    plain = peers("127.0.0.34", port)
    t = make_tern(dns=dns.dns_config(), delivery=dict(FAST, smtp_port=str(port), tlsrpt="no"))
    submit(t, ["far@plain.test"])
    plain.wait_messages(1, log=t.log)
    wait_queue_empty(t)
    assert t.cli("tlsrpt", "list").stdout == ""


def test_dane_report(make_tern, make_dns, peers, ca):
    """DANE (RFC 7672): a matching DANE-EE record (success) and a mismatch (validation-failure),
    reported as policy-type tlsa with the TLSA records as policy-string."""
    from test_delivery_tls import spki_sha256
    good_ca, other_ca = ca
    port = free_port()
    ok_cert = good_ca.issue("mx.dane-ok.test")
    bad_cert = good_ca.issue("mx.dane-bad.test")
    ok_tlsa = "3 1 1 " + spki_sha256(ok_cert[0])
    wrong_tlsa = "3 1 1 " + spki_sha256(good_ca.issue("elsewhere.test")[0])
    rua = '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:%s"' % REPORTS
    dns = make_dns({
        "dane-ok.test": ["@ MX 10 mx", "mx A 127.0.0.35", "_%d._tcp.mx TLSA %s" % (port, ok_tlsa), rua],
        "dane-bad.test": ["@ MX 10 mx", "mx A 127.0.0.36", "_%d._tcp.mx TLSA %s" % (port, wrong_tlsa), rua],
    }, signed=["dane-ok.test", "dane-bad.test"])
    ok_peer = peers("127.0.0.35", port, tls_context=client_tls_context(*ok_cert))
    bad_peer = peers("127.0.0.36", port, tls_context=client_tls_context(*bad_cert))
    t = make_tern(dns=dns.dns_config(), delivery=dict(FAST, smtp_port=str(port), mta_sts="no"))
    t.add_user(REPORTS)
    submit(t, ["far@dane-ok.test"])
    assert ok_peer.wait_messages(1, log=t.log)[0].tls
    submit(t, ["far@dane-bad.test"])
    t.wait_log(r"to=<far@dane-bad\.test> .*status=deferred", timeout=30)
    wait_deferred(t)
    t.cli("queue", "hold", "all")
    assert bad_peer.messages == []

    t.cli("tlsrpt", "send", "--day", time.strftime("%Y-%m-%d", time.gmtime()))
    rows = wait_inbox(t, REPORTS, 2)
    reports = {}
    for uid, _ in rows:
        msg = email.message_from_bytes(t.cat(REPORTS, uid), policy=email.policy.default)
        att = list(msg.iter_parts())[1]
        rep = strict_json(gzip.decompress(att.get_content()))
        reports[msg["TLS-Report-Domain"]] = rep["policies"]
    ok = reports["dane-ok.test"]
    assert len(ok) == 1 and ok[0]["policy"] == {"policy-type": "tlsa", "policy-string": [ok_tlsa],
                                                 "policy-domain": "dane-ok.test"}
    assert ok[0]["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
    bad = reports["dane-bad.test"]
    assert len(bad) == 1 and bad[0]["policy"]["policy-type"] == "tlsa"
    assert bad[0]["policy"]["policy-string"] == [wrong_tlsa]
    assert bad[0]["summary"]["total-successful-session-count"] == 0
    assert bad[0]["summary"]["total-failure-session-count"] >= 1
    d = bad[0]["failure-details"][0]
    assert d["result-type"] == "validation-failure"
    assert d["receiving-mx-hostname"] == "mx.dane-bad.test" and d["receiving-ip"] == "127.0.0.36"


def test_sts_testing_mode_report(world):
    """A policy in mode "testing" (RFC 8461 §5): the mail goes as without a policy (opportunistic TLS,
    delivered whatever the certificate), and each session is reported under the policy, its string
    saying "mode: testing", as the policy would have judged it: a success, a certificate VERIFY
    refuses (another CA; a name not the MX's), or an MX host the policy does not list."""
    t, good, bad, plain, sink = world
    for d in TESTING:
        submit(t, ["far@" + d], subject="to " + d)
        assert t.testing[d].wait_messages(1, log=t.log)[0].tls, d
    wait_queue_empty(t)
    t.cli("tlsrpt", "send")
    uids = [u for u, *_ in wait_inbox(t, REPORTS, len(TESTING))]
    seen = {}
    for uid in uids:
        msg = email.message_from_bytes(t.cat(REPORTS, uid), policy=email.policy.default)
        report = strict_json(gzip.decompress(list(msg.iter_parts())[1].get_content()))
        assert len(report["policies"]) == 1, report
        seen[msg["TLS-Report-Domain"]] = report["policies"][0]
    assert set(seen) == set(TESTING), seen
    for d, (ip, listed, cert, result) in TESTING.items():
        pol = seen[d]
        assert pol["policy"]["policy-type"] == "sts", (d, pol)
        assert pol["policy"]["policy-domain"] == d
        assert pol["policy"]["policy-string"] == [
            "version: STSv1", "mode: testing", "mx: %s.%s" % (listed, d), "max_age: 86400"], (d, pol)
        assert pol["policy"]["mx-host"] == ["%s.%s" % (listed, d)]
        if result is None:
            assert pol["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
            assert pol["failure-details"] == []
        else:
            assert pol["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}
            assert len(pol["failure-details"]) == 1, (d, pol)
            f = pol["failure-details"][0]
            assert (f["result-type"], f["receiving-mx-hostname"], f["receiving-ip"], f["failed-session-count"]) == \
                (result, "mx." + d, ip, 1), (d, f)
