"""MTA-STS enforced by delivery (RFC 8461 §4, §5): tern fetches the
recipient domain's policy (NSD for the DNS, httpsserver.py for the
policy host), delivers only to MX hosts the policy names, and only over
TLS with a certificate of a trusted CA ([delivery] tls_ca_file) for the
MX host's name; otherwise the mail waits (4.7.5), it is never sent in
clear nor bounced.
"""
from conftest import free_port
from deliveryutil import ca  # noqa: F401 (a fixture)
from deliveryutil import (FAST, receiving_tern, report_of, status_fields, submit, wait_deferred, wait_inbox,
                          wait_queue_empty)
from httpsserver import HTTPSServer
from smtppeer import client_tls_context

WEB_IP = "127.0.0.48"
PATH = "/.well-known/mta-sts.txt"


def sts_world(make_tern, make_dns, peers, ca, mode="enforce", mx_cert_ca=None, mx2_tls=True):
    good_ca, other_ca = ca
    port = free_port()
    dns = make_dns({"remote.test": [
        "@ MX 10 mx1", "@ MX 20 mx2",
        "mx1 A 127.0.0.31", "mx2 A 127.0.0.32",
        '_mta-sts TXT "v=STSv1; id=p1"', "mta-sts A " + WEB_IP]})
    web = HTTPSServer(WEB_IP, {"mta-sts.remote.test": good_ca.issue("mta-sts.remote.test")})
    web.route("mta-sts.remote.test", PATH,
              "version: STSv1\nmode: %s\nmx: mx2.remote.test\nmax_age: 86400\n" % mode)
    # mx1 is preferred and works, but the policy does not name it.
    mx1 = peers("127.0.0.31", port, tls_context=client_tls_context(*good_ca.issue("mx1.remote.test")))
    signer = mx_cert_ca or good_ca
    mx2 = peers("127.0.0.32", port,
                tls_context=client_tls_context(*signer.issue("mx2.remote.test")) if mx2_tls else None)
    delivery = dict(FAST, smtp_port=str(port), mta_sts_port=str(web.port), tls_ca_file=good_ca.cert)
    t = make_tern(dns=dns.dns_config(), delivery=delivery)
    return t, web, mx1, mx2


def test_enforce_uses_only_listed_mx_with_verified_tls(make_tern, make_dns, peers, ca):
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca)
    try:
        submit(t, ["far@remote.test"])
        got = mx2.wait_messages(1, log=t.log)[0]
        assert got.tls
        assert mx1.messages == []
        wait_queue_empty(t)
        t.wait_log(r"to=<far@remote\.test> relay=mx2\.remote\.test\[127\.0\.0\.32\]:\d+ .*tls=yes "
                   r"tls_policy=verify")
    finally:
        web.stop()


def test_enforce_with_untrusted_certificate_waits(make_tern, make_dns, peers, ca):
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca, mx_cert_ca=ca[1])
    try:
        submit(t, ["far@remote.test"])
        t.wait_log(r"to=<far@remote\.test> .*status=deferred", timeout=30)
        rows = wait_deferred(t)
        assert len(rows) == 1 and rows[0][6].startswith("4.7.5"), rows
        assert mx1.messages == [] and mx2.messages == []
    finally:
        web.stop()


def test_enforce_without_starttls_waits(make_tern, make_dns, peers, ca):
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca, mx2_tls=False)
    try:
        submit(t, ["far@remote.test"])
        t.wait_log(r"to=<far@remote\.test> .*status=deferred", timeout=30)
        assert mx2.messages == [] and mx1.messages == []
        assert wait_deferred(t)[0][6].startswith("4.7.5")
    finally:
        web.stop()


def test_testing_mode_delivers_as_without_policy(make_tern, make_dns, peers, ca):
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca, mode="testing", mx_cert_ca=ca[1])
    try:
        submit(t, ["far@remote.test"])
        got = mx1.wait_messages(1, log=t.log)[0]        # the preferred MX, though unlisted
        assert got.rcpt_tos == ["far@remote.test"]
        wait_queue_empty(t)
    finally:
        web.stop()


def test_tls_required_no_header_overrides_policy(make_tern, make_dns, peers, ca):
    # RFC 8689 §5: the sender prefers delivery to the recipient's policy.
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca, mx_cert_ca=ca[1])
    try:
        s = t.submission()
        s.sendmail("alice@example.test", ["far@remote.test"],
                   ("From: alice@example.test\r\nTo: far@remote.test\r\nSubject: whatever\r\n"
                    "TLS-Required: No\r\n\r\nDeliver it anyway.\r\n"))
        s.quit()
        got = mx1.wait_messages(1, log=t.log)[0]
        assert b"TLS-Required: No" in got.data
        wait_queue_empty(t)
    finally:
        web.stop()


def requiretls_world(make_tern, make_dns, ca):
    good_ca, _ = ca
    port = free_port()
    dns = make_dns({"remote.test": [
        "@ MX 10 mx2", "mx2 A 127.0.0.32",
        '_mta-sts TXT "v=STSv1; id=r1"', "mta-sts A " + WEB_IP]})
    web = HTTPSServer(WEB_IP, {"mta-sts.remote.test": good_ca.issue("mta-sts.remote.test")})
    web.route("mta-sts.remote.test", PATH, "version: STSv1\nmode: enforce\nmx: mx2.remote.test\nmax_age: 86400\n")
    b = receiving_tern(make_tern, good_ca, "mx2.remote.test", "127.0.0.32:%d" % port)
    delivery = dict(FAST, smtp_port=str(port), mta_sts_port=str(web.port), tls_ca_file=good_ca.cert)
    a = make_tern(dns=dns.dns_config(), delivery=delivery)
    return a, b, web


def test_requiretls_delivered_over_verified_tls_to_a_peer_that_offers_it(make_tern, make_dns, ca):
    a, b, web = requiretls_world(make_tern, make_dns, ca)
    try:
        submit(a, ["far@remote.test"], subject="secret", mail_options=["REQUIRETLS"])
        rows = wait_inbox(b, "far@remote.test", 1)
        assert b"Subject: secret" in b.cat("far@remote.test", rows[0][0])
        a.wait_log(r"to=<far@remote\.test> .*tls=yes tls_policy=verify .*status=sent")
        wait_queue_empty(a)
    finally:
        web.stop()


def test_requiretls_bounces_when_the_peer_does_not_offer_it(make_tern, make_dns, peers, ca):
    # aiosmtpd verifies fine under the policy, but does not offer REQUIRETLS.
    t, web, mx1, mx2 = sts_world(make_tern, make_dns, peers, ca)
    try:
        submit(t, ["far@remote.test"], subject="secret", mail_options=["REQUIRETLS"])
        rows = wait_inbox(t, "alice@example.test", 1)
        report, _ = report_of(t, "alice@example.test", rows[0][0])
        _, groups = status_fields(report)
        assert groups[0]["status"] == "5.7.30"
        assert "does not offer REQUIRETLS" in groups[0]["diagnostic-code"].replace("\r\n ", " ") \
            or "REQUIRETLS" in groups[0]["diagnostic-code"]
        assert mx1.messages == [] and mx2.messages == []
        wait_queue_empty(t)
    finally:
        web.stop()


def test_requiretls_without_a_verified_policy_bounces_at_once(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = make_tern(delivery=dict(FAST, relay="[127.0.0.2]:%d" % peer_port))
    submit(t, ["far@remote.example"], mail_options=["REQUIRETLS"])
    rows = wait_inbox(t, "alice@example.test", 1)
    report, _ = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert groups[0]["status"] == "5.7.30"
    assert peer.messages == []
