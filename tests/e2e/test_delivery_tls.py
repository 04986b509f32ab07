"""Outbound TLS policy, end to end: DANE (RFC 7672) through the real queue.

NSD (dnsserver.py) serves the recipient zones, DNSSEC-signed where a test
wants a secure answer, with TLSA records for _<port>._tcp.<mx host>
computed from the peer's real certificate; the peers are aiosmtpd on
127.0.0.N offering STARTTLS (or not).  tern validates with the zones' own
trust anchor (dns_config()), so "secure" means what it means in the wild.

What is checked: a matching DANE-EE or DANE-TA record → delivered over TLS,
logged as dane-verified; a mismatch, a DANE host without STARTTLS, a bogus
TLSA answer → deferred with 4.7.5 and nothing sent (the peer never sees a
MAIL command); TLSA records that are insecure (unsigned zone, or an MX
answer that is not secure) or switched off (dane = no) → opportunistic as
before; a secure TLSA RRset with only unusable records → TLS required but
not authenticated (RFC 7672 §2.2).  A relay named "[host]:port" gets DANE
like an MX host, an address literal never; a tls_ca_file that cannot be
loaded stops outbound delivery at start.

Verified TLS (the VERIFY policy a destination policy such as MTA-STS
asks for) has no caller yet; its handshakes are unit-tested in
tests/unit/test_mta_tls.c.
"""

import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import free_port
from deliveryutil import FAST, submit, wait_queue_empty
from deliveryutil import wait_deferred as wait_tried
from smtppeer import client_tls_context

ZONE = "remote.test"
MX = "mx." + ZONE


# ---- certificates ------------------------------------------------------------

def _openssl(*args, input=None):
    return subprocess.run(["openssl"] + list(args), input=input, capture_output=True, check=True).stdout


class Certs:
    """A directory of test certificates: self-signed end-entity ones, and a CA with leaves it signed."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tern-tls-")
        os.chmod(self.dir, 0o755)   # tls_ca_file is read by the unprivileged server user
        self.ca, self.ca_key = self._req("ca", "Tern Test DANE CA",
                                         ["basicConstraints=critical,CA:TRUE",
                                          "keyUsage=critical,keyCertSign,cRLSign"])

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _req(self, name, cn, exts):
        cert, key = self._path(name + ".pem"), self._path(name + ".key")
        args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "30", "-subj", "/CN=" + cn, "-keyout", key, "-out", cert]
        for e in exts:
            args += ["-addext", e]
        _openssl(*args)
        return cert, key

    def self_signed(self, name, dns_name):
        """A self-signed certificate for dns_name: (cert, key)."""
        return self._req(name, dns_name, ["subjectAltName=DNS:" + dns_name])

    def signed(self, name, dns_name):
        """A leaf for dns_name signed by the CA: (chain file leaf+CA, key)."""
        key, csr = self._path(name + ".key"), self._path(name + ".csr")
        leaf, ext = self._path(name + ".leaf.pem"), self._path(name + ".ext")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-subj", "/CN=" + dns_name, "-keyout", key, "-out", csr)
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n" % dns_name)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
                 "-days", "30", "-extfile", ext, "-out", leaf)
        chain = self._path(name + ".chain.pem")
        with open(chain, "w") as f:
            f.write(open(leaf).read() + open(self.ca).read())
        return chain, key

    def stop(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def cert_sha256(pem_path):
    """SHA-256 of the first certificate's DER (selector 0, matching type 1)."""
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def spki_sha256(pem_path):
    """SHA-256 of the first certificate's SubjectPublicKeyInfo (selector 1, matching type 1)."""
    pub = _openssl("x509", "-in", pem_path, "-noout", "-pubkey")
    der = _openssl("pkey", "-pubin", "-outform", "DER", input=pub)
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def tls_certs():
    c = Certs()
    c.ee = c.self_signed("ee", MX)
    c.other = c.self_signed("other", MX)                 # a key no TLSA record names
    c.unrelated = c.self_signed("unrelated", "unrelated.example")
    c.leaf = c.signed("leaf", MX)
    c.wrong_leaf = c.signed("wrong", "elsewhere.example")
    yield c
    c.stop()


# ---- the set-up of one test ------------------------------------------------------

def watch_mail(peer):
    """Record every MAIL FROM the peer gets (smtppeer keeps only finished messages)."""
    handler = peer.controller.handler
    original = handler.handle_MAIL
    peer.mail_seen = []

    async def handle_MAIL(server, session, envelope, address, mail_options):
        peer.mail_seen.append((address, session.ssl is not None))
        return await original(server, session, envelope, address, mail_options)
    handler.handle_MAIL = handle_MAIL
    return peer


def tls_peer(peers, host, port, cert=None):
    ctx = client_tls_context(*cert) if cert else None
    return watch_mail(peers(host, port, tls_context=ctx, hostname=MX))


def dane_tern(make_tern, dns, port, **delivery):
    d = dict(FAST, smtp_port=str(port))
    d.update(delivery)
    return make_tern(dns=dns.dns_config(), delivery=d)


def mx_zone(ip, port, *tlsa, host="mx"):
    return ["@ MX 10 %s" % host, "%s A %s" % (host, ip)] + \
        ["_%d._tcp.%s TLSA %s" % (port, host, t) for t in tlsa]


def wait_deferred(t, rcpt, timeout=30):
    t.wait_log(r"to=<%s> .*dsn=4\.7\.5 status=deferred" % rcpt.replace(".", r"\."), timeout=timeout)
    rows = wait_tried(t)
    assert len(rows) == 1 and rows[0][3] == rcpt, rows
    last = rows[0][6]       # the last error, as `tern queue list` shows it
    assert last.startswith("4.7.5 "), last
    return last


def assert_sent(t, rcpt, policy, peer_auth):
    t.wait_log(r"to=<%s> .*tls=yes tls_policy=%s tls_peer=%s .*status=sent"
               % (rcpt.replace(".", r"\."), policy, peer_auth))


# ---- DANE ------------------------------------------------------------------------

def test_dane_ee_match_delivers(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    # DANE-EE ignores the names in the certificate (RFC 7672 §3.1.1): this one is for another host.
    cert = tls_certs.unrelated
    dns = make_dns({ZONE: mx_zone("127.0.0.21", port, "3 1 1 " + spki_sha256(cert[0]))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.21", port, cert)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    got = peer.wait_messages(1)[0]
    assert got.tls and got.rcpt_tos == ["far@remote.test"]
    wait_queue_empty(t)
    assert_sent(t, "far@remote.test", "dane", "dane-verified")
    t.wait_log(r'msg="TLS established" relay=mx\.remote\.test\[127\.0\.0\.21\]:%d .*tls=dane-verified '
               r'policy=dane match="TLSA 3 1 1 at depth 0"' % port)
    assert all(tls for _, tls in peer.mail_seen)


def test_dane_ee_full_certificate_delivers(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    cert = tls_certs.ee
    dns = make_dns({ZONE: mx_zone("127.0.0.22", port, "3 0 1 " + cert_sha256(cert[0]))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.22", port, cert)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@remote.test", "dane", "dane-verified")


def test_dane_mismatch_defers(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    # The record names the key of ee; the peer presents another.
    dns = make_dns({ZONE: mx_zone("127.0.0.23", port, "3 1 1 " + spki_sha256(tls_certs.ee[0]))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.23", port, tls_certs.other)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    last = wait_deferred(t, "far@remote.test")
    assert ("TLS is required (DANE) but the certificate of mx.remote.test[127.0.0.23] did not verify: "
            "no matching DANE TLSA records") in last, last
    t.wait_log(r'msg="TLS required, host not used" relay=mx\.remote\.test\[127\.0\.0\.23\]:%d tls=failed policy=dane'
               % port)
    time.sleep(1)
    assert peer.messages == [] and peer.mail_seen == []
    assert "retrying without STARTTLS" not in t.log()


def test_dane_host_without_starttls_defers(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    dns = make_dns({ZONE: mx_zone("127.0.0.24", port, "3 1 1 " + spki_sha256(tls_certs.ee[0]))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.24", port)         # no STARTTLS offered
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    last = wait_deferred(t, "far@remote.test")
    assert "TLS is required (DANE) but STARTTLS was not offered by host mx.remote.test[127.0.0.24]" in last, last
    time.sleep(2)                                      # retries too: never in plain text
    assert peer.messages == [] and peer.mail_seen == []


@pytest.mark.parametrize("record", ["2 0 1", "2 1 1"])
def test_dane_ta_delivers(make_tern, make_dns, peers, tls_certs, record):
    port = free_port()
    ca = tls_certs.ca
    digest = cert_sha256(ca) if record == "2 0 1" else spki_sha256(ca)
    dns = make_dns({ZONE: mx_zone("127.0.0.25", port, "%s %s" % (record, digest))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.25", port, tls_certs.leaf)    # sends leaf + CA
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert peer.wait_messages(1)[0].tls
    wait_queue_empty(t)
    assert_sent(t, "far@remote.test", "dane", "dane-verified")
    t.wait_log(r'tls=dane-verified policy=dane match="TLSA %s at depth 1"' % record)


def test_dane_ta_checks_the_name(make_tern, make_dns, peers, tls_certs):
    # DANE-TA, unlike DANE-EE, needs the certificate to name the MX host (RFC 7672 §3.2.2).
    port = free_port()
    dns = make_dns({ZONE: mx_zone("127.0.0.26", port, "2 1 1 " + spki_sha256(tls_certs.ca))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.26", port, tls_certs.wrong_leaf)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    last = wait_deferred(t, "far@remote.test")
    assert "did not verify: hostname mismatch" in last, last
    assert peer.mail_seen == []


def test_implicit_mx_dane(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    cert = tls_certs.ee
    dns = make_dns({ZONE: ["@ A 127.0.0.27", "_%d._tcp TLSA 3 1 1 %s" % (port, spki_sha256(cert[0]))]},
                   signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.27", port, cert)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@remote.test", "dane", "dane-verified")


# ---- not DANE: insecure or absent records ----------------------------------------------

def test_tlsa_in_unsigned_zone_is_ignored(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    # A record that would not match: insecure, so it does not count (RFC 7672 §2.2).
    dns = make_dns({ZONE: mx_zone("127.0.0.28", port, "3 1 1 " + spki_sha256(tls_certs.ee[0]))})
    peer = tls_peer(peers, "127.0.0.28", port, tls_certs.other)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert peer.wait_messages(1)[0].tls
    wait_queue_empty(t)
    assert_sent(t, "far@remote.test", "may", "opportunistic")
    t.wait_log(r'msg="TLS established" .*tls=opportunistic policy=may')


def test_insecure_mx_answer_means_no_dane(make_tern, make_dns, peers, tls_certs):
    # The MX host's zone is signed and has a (mismatching) TLSA record, but the
    # domain's MX answer is insecure: no TLSA lookup (RFC 7672 §2.2.1 as tern applies it).
    port = free_port()
    dns = make_dns({"plain.test": ["@ MX 10 %s." % MX],
                    ZONE: ["mx A 127.0.0.29", "_%d._tcp.mx TLSA 3 1 1 %s" % (port, spki_sha256(tls_certs.ee[0]))]},
                   signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.29", port, tls_certs.other)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@plain.test"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@plain.test", "may", "opportunistic")


def test_no_tlsa_in_signed_zone_is_opportunistic(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    dns = make_dns({ZONE: mx_zone("127.0.0.30", port)}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.30", port)         # plain text is fine without DANE
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    got = peer.wait_messages(1)[0]
    assert not got.tls
    wait_queue_empty(t)
    t.wait_log(r"to=<far@remote\.test> .*tls=no tls_policy=may tls_peer=none .*status=sent")
    t.wait_log(r'msg="no TLS" relay=mx\.remote\.test\[127\.0\.0\.30\]:%d tls=none policy=may '
               r'reason="STARTTLS not offered"' % port)


def test_dane_off_in_config(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    dns = make_dns({ZONE: mx_zone("127.0.0.31", port, "3 1 1 " + spki_sha256(tls_certs.ee[0]))}, signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.31", port, tls_certs.other)
    t = dane_tern(make_tern, dns, port, dane="no")
    submit(t, ["far@remote.test"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@remote.test", "may", "opportunistic")


# ---- unusable records and failed lookups ----------------------------------------------

def test_only_unusable_tlsa_requires_tls(make_tern, make_dns, peers, tls_certs):
    # PKIX-EE(1) is not for SMTP (RFC 7672 §3.1.3): TLS is still promised,
    # so it is required, but nothing can authenticate the peer (RFC 7672 §2.2).
    port = free_port()
    unusable = "1 1 1 " + spki_sha256(tls_certs.ee[0])
    dns = make_dns({ZONE: mx_zone("127.0.0.32", port, unusable),
                    "second.test": mx_zone("127.0.0.33", port, unusable)}, signed=[ZONE, "second.test"])
    with_tls = tls_peer(peers, "127.0.0.32", port, tls_certs.other)
    without = tls_peer(peers, "127.0.0.33", port)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert with_tls.wait_messages(1)[0].tls
    assert_sent(t, "far@remote.test", "encrypt", "opportunistic")
    submit(t, ["far@second.test"])
    last = wait_deferred(t, "far@second.test")
    assert "TLS is required (DANE, no usable TLSA record) but STARTTLS was not offered" in last, last
    assert without.mail_seen == []


def test_bogus_tlsa_defers(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    digest = spki_sha256(tls_certs.ee[0])
    forged = ("1" if digest[0] != "1" else "2") + digest[1:]
    # The record is changed after signing: its RRSIG no longer matches (bogus).
    tamper = {ZONE: [(r"(?i)(TLSA\s+3\s+1\s+1\s+)" + digest, r"\g<1>" + forged)]}
    dns = make_dns({ZONE: mx_zone("127.0.0.34", port, "3 1 1 " + digest)}, signed=[ZONE], tamper=tamper)
    peer = tls_peer(peers, "127.0.0.34", port, tls_certs.ee)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    last = wait_deferred(t, "far@remote.test")
    assert ("TLSA lookup for _%d._tcp.mx.remote.test failed (DNSSEC validation failed)" % port) in last, last
    time.sleep(1)
    assert peer.mail_seen == [] and peer.messages == []


def test_bogus_tlsa_host_skipped_for_the_next_mx(make_tern, make_dns, peers, tls_certs):
    # RFC 7672 §2.1.1: the host with the bogus TLSA answer is not used; the next MX is.
    port = free_port()
    digest = spki_sha256(tls_certs.ee[0])
    forged = ("1" if digest[0] != "1" else "2") + digest[1:]
    tamper = {ZONE: [(r"(?i)(_%d\._tcp\.mx1\.remote\.test\.\s+\d+\s+IN\s+TLSA\s+3\s+1\s+1\s+)%s" % (port, digest),
                      r"\g<1>" + forged)]}
    records = ["@ MX 10 mx1", "@ MX 20 mx2", "mx1 A 127.0.0.35", "mx2 A 127.0.0.36",
               "_%d._tcp.mx1 TLSA 3 1 1 %s" % (port, digest), "_%d._tcp.mx2 TLSA 3 1 1 %s" % (port, digest)]
    dns = make_dns({ZONE: records}, signed=[ZONE], tamper=tamper)
    first = tls_peer(peers, "127.0.0.35", port, tls_certs.ee)
    second = tls_peer(peers, "127.0.0.36", port, tls_certs.ee)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert second.wait_messages(1)[0].tls
    wait_queue_empty(t)
    t.wait_log(r"to=<far@remote\.test> relay=mx2\.remote\.test\[127\.0\.0\.36\]:%d .*tls_policy=dane "
               r"tls_peer=dane-verified .*status=sent" % port)
    assert first.mail_seen == []
    t.wait_log(r'msg="TLSA lookup failed, host not used" dest=remote\.test host=mx1\.remote\.test bogus=yes')


def test_dane_mismatch_on_first_mx_falls_to_the_next(make_tern, make_dns, peers, tls_certs):
    port = free_port()
    good = spki_sha256(tls_certs.ee[0])
    records = ["@ MX 10 mx1", "@ MX 20 mx2", "mx1 A 127.0.0.37", "mx2 A 127.0.0.38",
               "_%d._tcp.mx1 TLSA 3 1 1 %s" % (port, good), "_%d._tcp.mx2 TLSA 3 1 1 %s" % (port, good)]
    dns = make_dns({ZONE: records}, signed=[ZONE])
    first = tls_peer(peers, "127.0.0.37", port, tls_certs.other)     # wrong key
    second = tls_peer(peers, "127.0.0.38", port, tls_certs.ee)
    t = dane_tern(make_tern, dns, port)
    submit(t, ["far@remote.test"])
    assert second.wait_messages(1)[0].tls
    wait_queue_empty(t)
    assert first.mail_seen == [] and first.messages == []


# ---- the relay ---------------------------------------------------------------------

def test_relay_by_name_uses_dane(make_tern, make_dns, peers, tls_certs):
    # "[host]:port" is looked up by name: with secure addresses its TLSA records count too.
    port = free_port()
    dns = make_dns({ZONE: ["mx A 127.0.0.39", "_%d._tcp.mx TLSA 3 1 1 %s" % (port, spki_sha256(tls_certs.ee[0]))]},
                   signed=[ZONE])
    peer = tls_peer(peers, "127.0.0.39", port, tls_certs.other)       # not the key the record names
    t = make_tern(dns=dns.dns_config(), delivery=dict(FAST, relay="[%s]:%d" % (MX, port)))
    submit(t, ["far@anywhere.example"])
    last = wait_deferred(t, "far@anywhere.example")
    assert "TLS is required (DANE) but the certificate of mx.remote.test[127.0.0.39] did not verify" in last, last
    assert peer.mail_seen == []


def test_relay_literal_stays_opportunistic(make_tern, peers, tls_certs):
    port = free_port()
    peer = tls_peer(peers, "127.0.0.40", port, tls_certs.other)
    t = make_tern(delivery=dict(FAST, relay="[127.0.0.40]:%d" % port))
    submit(t, ["far@anywhere.example"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@anywhere.example", "may", "opportunistic")


def test_unreadable_tls_ca_file_stops_delivery(make_tern, peers, tls_certs):
    # An operator's CA file that cannot be loaded is an error at start, not a silent fallback.
    port = free_port()
    peer = tls_peer(peers, "127.0.0.41", port, tls_certs.other)
    t = make_tern(delivery=dict(FAST, relay="[127.0.0.41]:%d" % port, tls_ca_file="/nonexistent/ca.pem"))
    t.wait_log(r'msg="cannot load tls_ca_file" path=/nonexistent/ca\.pem')
    t.wait_log(r'msg="outbound delivery not started"')
    submit(t, ["far@anywhere.example"])
    time.sleep(2)
    assert peer.mail_seen == []


def test_tls_ca_file_is_loaded(make_tern, peers, tls_certs):
    port = free_port()
    peer = tls_peer(peers, "127.0.0.42", port, tls_certs.leaf)
    t = make_tern(delivery=dict(FAST, relay="[127.0.0.42]:%d" % port, tls_ca_file=tls_certs.ca))
    submit(t, ["far@anywhere.example"])
    assert peer.wait_messages(1)[0].tls
    assert_sent(t, "far@anywhere.example", "may", "opportunistic")
