"""[delivery] relay_tls: what TLS the relay's connection must have.

may (the default) is opportunistic, as without a relay; encrypt makes
STARTTLS mandatory; verify also checks the relay's certificate against a
CA ([delivery] tls_ca_file) and the relay's name, so that a REQUIRETLS
message (RFC 8689) can go through a relay.  When the relay's TLS falls
short the mail waits (4.7.5), it is never sent in clear.  The relay is a
second tern (which offers REQUIRETLS) or an aiosmtpd peer; its name comes
from NSD.
"""
import subprocess

import pytest

from conftest import TERN, free_port
from deliveryutil import ca  # noqa: F401 (a fixture)
from deliveryutil import FAST, receiving_tern, submit, wait_deferred, wait_inbox, wait_queue_empty
from smtppeer import client_tls_context

RELAY_IP = "127.0.0.32"


def sender(make_tern, make_dns, ca, port, relay_tls):
    dns = make_dns({"relay.test": ["@ A " + RELAY_IP]})
    delivery = dict(FAST, relay="[relay.test]:%d" % port, tls_ca_file=ca[0].cert)
    if relay_tls:
        delivery["relay_tls"] = relay_tls
    return make_tern(dns=dns.dns_config(), delivery=delivery)


def test_verify_delivers_requiretls_through_the_relay(make_tern, make_dns, ca):
    port = free_port()
    b = receiving_tern(make_tern, ca[0], "relay.test", "%s:%d" % (RELAY_IP, port))
    a = sender(make_tern, make_dns, ca, port, "verify")
    submit(a, ["far@remote.test"], subject="secret", mail_options=["REQUIRETLS"])
    rows = wait_inbox(b, "far@remote.test", 1)
    assert b"Subject: secret" in b.cat("far@remote.test", rows[0][0])
    a.wait_log(r"to=<far@remote\.test> relay=relay\.test\[127\.0\.0\.32\]:%d .*tls=yes tls_policy=verify "
               r".*status=sent" % port)
    wait_queue_empty(a)


def test_requiretls_through_an_unverified_relay_bounces(make_tern, make_dns, ca):
    # The same relay, relay_tls left at may: the relay's TLS is not verified, so REQUIRETLS cannot go.
    port = free_port()
    b = receiving_tern(make_tern, ca[0], "relay.test", "%s:%d" % (RELAY_IP, port))
    a = sender(make_tern, make_dns, ca, port, None)
    submit(a, ["far@remote.test"], subject="secret", mail_options=["REQUIRETLS"])
    a.wait_log(r"to=<far@remote\.test> .*dsn=5\.7\.30 status=bounced")
    assert wait_inbox(a, "alice@example.test", 1)
    submit(a, ["far@remote.test"], subject="plain")     # without REQUIRETLS: opportunistic TLS, delivered
    rows = wait_inbox(b, "far@remote.test", 1)
    assert b"Subject: plain" in b.cat("far@remote.test", rows[0][0])
    a.wait_log(r"to=<far@remote\.test> .*tls=yes tls_policy=may .*status=sent")


@pytest.mark.parametrize("issuer,name,why", [
    ("other", "relay.test", "did not verify: .*unable to get local issuer certificate"),
    ("good", "smtp.other.test", r"did not verify: certificate names \(smtp\.other\.test\) do not match relay\.test"),
])
def test_verify_refuses_a_relay_that_does_not_check_out(make_tern, make_dns, peers, ca, issuer, name, why):
    port = free_port()
    issuing = ca[0] if issuer == "good" else ca[1]
    peer = peers(RELAY_IP, port, tls_context=client_tls_context(*issuing.issue(name)))
    a = sender(make_tern, make_dns, ca, port, "verify")
    submit(a, ["far@remote.test"])
    a.wait_log(r"msg=\"TLS required, host not used\" .*policy=verify reason=\"4\.7\.5 TLS is required "
               r"\(relay_tls\) but the certificate of relay\.test\[127\.0\.0\.32\] " + why)
    rows = wait_deferred(a)
    assert rows[0][6].startswith("4.7.5"), rows
    assert peer.messages == []


def test_tls_required_no_does_not_relax_relay_tls(make_tern, make_dns, peers, ca):
    # "TLS-Required: No" (RFC 8689 §5) waives the recipient's policy; relay_tls is the operator's, and a relay
    # password would go over it: a sender's header must not send it to an unchecked host.
    port = free_port()
    peer = peers(RELAY_IP, port, tls_context=client_tls_context(*ca[1].issue("relay.test")))
    a = sender(make_tern, make_dns, ca, port, "verify")
    s = a.submission()
    s.sendmail("alice@example.test", ["far@remote.test"],
               "From: alice@example.test\r\nTo: far@remote.test\r\nSubject: anyway\r\nTLS-Required: No\r\n\r\n"
               "Deliver it anyway.\r\n")
    s.quit()
    rows = wait_deferred(a)
    assert rows[0][6].startswith("4.7.5"), rows
    assert "policy=verify" in a.log()
    assert peer.messages == []


def test_encrypt_never_sends_in_clear(make_tern, make_dns, peers, ca):
    port = free_port()
    peer = peers(RELAY_IP, port)        # no STARTTLS
    a = sender(make_tern, make_dns, ca, port, "encrypt")
    submit(a, ["far@remote.test"])
    rows = wait_deferred(a)
    assert rows[0][6].startswith("4.7.5"), rows
    assert "policy=encrypt" in a.log()
    assert peer.messages == []
    # The same peer under the default (may) gets the mail in clear.
    b = sender(make_tern, make_dns, ca, port, None)
    submit(b, ["far@remote.test"])
    assert not peer.wait_messages(1, log=b.log)[0].tls


def test_check_config_refuses_bad_values(make_tern, tmp_path):
    t = make_tern(start=False, provisioned=False)
    bad = tmp_path / "bad.conf"
    for text, problem in [
        ("[delivery]\nrelay = [relay.test]\nrelay_tls = always\n", "relay_tls: must be may, encrypt or verify"),
        ("[delivery]\nrelay = [192.0.2.7]:587\nrelay_tls = verify\n",
         "relay_tls: verify needs the relay's host name, not an address ([192.0.2.7]:587)"),
    ]:
        bad.write_text(text)
        r = subprocess.run([TERN, "-c", str(bad), "check-config"], capture_output=True, text=True)
        assert r.returncode == 1 and problem in r.stderr, (text, r.stderr)
    with open(t.conf) as f:
        good = f.read()
    bad.write_text(good.replace("[delivery]", "[delivery]\nrelay = [192.0.2.7]:587\nrelay_tls = encrypt", 1)
                   if "[delivery]" in good else good + "\n[delivery]\nrelay = [192.0.2.7]:587\nrelay_tls = encrypt\n")
    r = subprocess.run([TERN, "-c", str(bad), "check-config"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
