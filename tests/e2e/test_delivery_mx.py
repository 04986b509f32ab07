"""Outbound delivery by MX: tern resolves the recipient domain at a real DNS
server (NSD, tests/e2e/dnsserver.py) and delivers to the hosts it names,
which are aiosmtpd peers on 127.0.0.N at one port ([delivery] smtp_port).
"""

import time

from conftest import free_port
from deliveryutil import FAST, queue_rows, report_of, status_fields, submit, wait_inbox, wait_queue_empty


def mx_tern(make_tern, dns, port, **delivery):
    d = dict(FAST, smtp_port=str(port))
    d.update(delivery)
    return make_tern(dns=dns.dns_config(), delivery=d)


def test_mx_preference_and_fallback(make_tern, make_dns, peers):
    port = free_port()
    dns = make_dns({"remote.test": ["@ MX 10 mx1", "@ MX 20 mx2", "@ MX 30 mx3",
                                    "mx1 A 127.0.0.3", "mx2 A 127.0.0.4", "mx3 A 127.0.0.5"]})
    second = peers("127.0.0.4", port)
    third = peers("127.0.0.5", port)
    t = mx_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    got = second.wait_messages(1)[0]          # mx1 refuses: the next preference takes it
    assert got.rcpt_tos == ["far@remote.test"]
    assert third.messages == []
    wait_queue_empty(t)
    t.wait_log(r"to=<far@remote\.test> relay=mx2\.remote\.test\[127\.0\.0\.4\]:%d .*status=sent" % port)


def test_every_address_of_a_host_is_tried(make_tern, make_dns, peers):
    port = free_port()
    dns = make_dns({"remote.test": ["@ MX 10 mx", "mx A 127.0.0.6", "mx A 127.0.0.7"]})
    peer = peers("127.0.0.7", port)
    t = mx_tern(make_tern, dns, port)
    # Whatever order the addresses come in, the dead one is skipped.
    for i in range(3):
        submit(t, ["far%d@remote.test" % i])
    assert len(peer.wait_messages(3)) == 3
    wait_queue_empty(t)


def test_implicit_mx(make_tern, make_dns, peers):
    port = free_port()
    dns = make_dns({"remote.test": ["@ A 127.0.0.8"]})
    peer = peers("127.0.0.8", port)
    t = mx_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    peer.wait_messages(1)
    wait_queue_empty(t)


def test_two_domains_two_transactions(make_tern, make_dns, peers):
    port = free_port()
    dns = make_dns({"one.test": ["@ MX 10 mx", "mx A 127.0.0.9"],
                    "two.test": ["@ MX 10 mx", "mx A 127.0.0.10"]})
    p1 = peers("127.0.0.9", port)
    p2 = peers("127.0.0.10", port)
    t = mx_tern(make_tern, dns, port)
    submit(t, ["a@one.test", "b@two.test", "c@one.test"])
    assert sorted(p1.wait_messages(1)[0].rcpt_tos) == ["a@one.test", "c@one.test"]
    assert p2.wait_messages(1)[0].rcpt_tos == ["b@two.test"]
    wait_queue_empty(t)


def test_null_mx_bounces_at_once(make_tern, make_dns):
    dns = make_dns({"nomail.test": ["@ MX 0 ."]})
    t = mx_tern(make_tern, dns, free_port())
    submit(t, ["far@nomail.test"], subject="to a null mx")
    rows = wait_inbox(t, "alice@example.test", 1, timeout=15)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert groups[0]["action"] == "failed"
    assert groups[0]["status"] == "5.1.10"
    assert b"Subject: to a null mx" in raw
    wait_queue_empty(t)


def test_nonexistent_domain_bounces(make_tern, make_dns):
    dns = make_dns({"remote.test": ["@ A 127.0.0.8"]})
    t = mx_tern(make_tern, dns, free_port())
    submit(t, ["far@nosuch.remote.test"])
    rows = wait_inbox(t, "alice@example.test", 1, timeout=15)
    report, _ = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert groups[0]["status"] == "5.1.2"
    wait_queue_empty(t)


def test_dns_failure_defers(make_tern, make_dns):
    # NSD refuses names outside its zones: a temporary failure, never a bounce.
    dns = make_dns({"remote.test": ["@ A 127.0.0.8"]})
    t = mx_tern(make_tern, dns, free_port())
    submit(t, ["far@elsewhere.test"])
    t.wait_log(r"to=<far@elsewhere\.test> .*status=deferred", timeout=30)
    assert len(queue_rows(t)) == 1
    time.sleep(1)
    assert t.messages("alice@example.test") == []
