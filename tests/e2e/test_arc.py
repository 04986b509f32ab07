"""
ARC (RFC 8617, src/mailauth/arc*.c) end to end, against dkimpy
(python3-dkim, with python3-authres) both ways, keys published in a real
DNS server (NSD, dnsserver.py):

- verification on the MX port: a chain dkimpy seals as a mailing list
  would (lists.test, i=1) is arc=pass in the Authentication-Results tern
  stores, with smtp.remote-ip; the same message with its body or a
  signed header changed in transit is arc=fail, saying why; mail without
  a chain is arc=none; `arc = no` leaves the method out;
- sealing: a message an alias forwards to a remote address (an aiosmtpd
  peer behind a relay route) reaches the peer with tern's ARC set on top
  (i=2 cv=pass after a valid chain, i=1 cv=none without one), sealed with
  the alias domain's DKIM key, and dkimpy's arc_verify passes it; the
  local copy keeps the plain trace fields; without a key it is forwarded
  unsealed, and the log says why.
"""
import os
import re

import pytest

from conftest import free_port, message
from deliveryutil import FAST

try:
    import authres              # noqa: F401  python3-authres: dkimpy's arc_sign needs it
    import dkim                 # python3-dkim (dkimpy)
except ImportError:
    if os.environ.get("TERN_REQUIRE_CLIENTS"):
        raise
    pytest.skip("python3-dkim or python3-authres not installed", allow_module_level=True)

# The helpers of the DKIM tests: the RSA key fixture and TXT lines, tern's key record, dkimpy's lookups in NSD.
from test_mailauth import rsa_key, txt  # noqa: E402,F401
from test_dkim import dnsfunc_for, record_strings  # noqa: E402


@pytest.fixture
def world(make_dns, make_tern, rsa_key, peers):
    """tern (DKIM on, so ARC too) with a key for example.test, the list's key in NSD, and a remote peer.

    Returns a factory: world(**mailauth) -> (tern, nsd, peer, selector)."""
    _, pub = rsa_key

    def factory(keyed=True, **mailauth):
        ns = make_dns({"lists.test": [txt("s1._domainkey", "v=DKIM1; k=rsa; p=" + pub)],
                       "example.test": ["@ MX 10 mx", "mx A 127.0.0.1"]})
        peer_port = free_port()
        peer = peers("127.0.0.2", peer_port)
        delivery = dict(FAST)
        delivery["relay"] = "[127.0.0.2]:%d" % peer_port
        m = {"spf": "no", "dkim": "yes", "dmarc": "no"}
        m.update(mailauth)
        t = make_tern(start=False, dns=ns.dns_config(), delivery=delivery, mailauth=m)
        sel = None
        if keyed:
            sel, _, strings = record_strings(t.cli("dkim", "keygen", "example.test").stdout)
            ns.set_zone("example.test", ["@ MX 10 mx", "mx A 127.0.0.1", txt(sel + "._domainkey", "".join(strings))])
        t.cli("alias", "add", "list@example.test", "far@remote.example")
        t.start()
        return t, ns, peer, sel
    return factory


def list_sealed(rsa_key, msg):
    """msg as a mailing list at lists.test passes it on: its A-R, then dkimpy's ARC set i=1 on top."""
    key, _ = rsa_key
    raw = ("Authentication-Results: lists.test; spf=pass smtp.mailfrom=news@origin.test\r\n" + msg).encode()
    arc_set = dkim.arc_sign(raw, b"s1", b"lists.test", key, b"lists.test")
    assert len(arc_set) == 3, arc_set
    return b"".join(arc_set) + raw


def send(t, data, rcpt="alice@example.test"):
    s = t.smtp()
    try:
        s.sendmail("owner@lists.test", [rcpt], data)
    finally:
        s.quit()


def auth_results(raw):
    """Our Authentication-Results field, unfolded."""
    head = re.sub(r"\r\n[ \t]+", " ", raw.split("\r\n\r\n", 1)[0])
    ours = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
            if line.lower().startswith("authentication-results: mx.example.test")]
    assert len(ours) == 1, head
    return ours[0]


def stored(t, address="alice@example.test"):
    rows = t.messages(address)
    assert rows, t.log()
    return t.cat(address, rows[-1][0]).decode()


def test_list_chain_passes(world, rsa_key):
    t, _, _, _ = world(keyed=False)
    send(t, list_sealed(rsa_key, message("list post", frm="news@origin.test")))
    ar = auth_results(stored(t))
    assert "arc=pass (i=1) smtp.remote-ip=127.0.0.1" in ar, ar
    assert re.search(r"msg=mailauth .* arc=pass arc_i=1", t.log())


def test_tampered_body_or_header_fails(world, rsa_key):
    t, _, _, _ = world(keyed=False)
    sealed = list_sealed(rsa_key, message("list post", frm="news@origin.test", body="The original text.\r\n"))
    send(t, sealed.replace(b"The original text.", b"The altered text."))
    ar = auth_results(stored(t))
    assert re.search(r"arc=fail \([^)]*body hash did not verify\) smtp\.remote-ip=127\.0\.0\.1", ar), ar
    send(t, sealed.replace(b"Subject: list post", b"Subject: list p0st"))
    ar = auth_results(stored(t))
    assert re.search(r"arc=fail \(ARC-Message-Signature i=1: signature did not verify\)", ar), ar


def test_broken_structure_fails(world, rsa_key):
    t, _, _, _ = world(keyed=False)
    sealed = list_sealed(rsa_key, message("list post", frm="news@origin.test"))
    # the seal gone: an incomplete set
    no_seal = re.sub(rb"^ARC-Seal:.*?\r\n(?=\S)", b"", sealed, flags=re.S | re.M)
    assert no_seal != sealed
    send(t, no_seal)
    assert "arc=fail (incomplete ARC set)" in auth_results(stored(t))


def test_no_chain_is_none_and_arc_can_be_off(world):
    t, _, _, _ = world(keyed=False)
    send(t, message("plain", frm="x@origin.test").encode())
    assert "arc=none smtp.remote-ip=127.0.0.1" in auth_results(stored(t))
    t2, _, _, _ = world(keyed=False, arc="no")
    send(t2, message("plain", frm="x@origin.test").encode())
    ar = auth_results(stored(t2))
    assert "dkim=none" in ar and "arc=" not in ar, ar


def arc_fields(data):
    """The ARC header fields of raw message bytes, in order, as (name, unfolded value)."""
    head = re.sub(rb"\r\n[ \t]+", b" ", data.split(b"\r\n\r\n", 1)[0])
    return [tuple(x.strip() for x in line.split(b":", 1)) for line in head.split(b"\r\n")
            if line.lower().startswith(b"arc-")]


def test_forwarded_chain_is_sealed_i2(world, rsa_key):
    t, ns, peer, sel = world()
    send(t, list_sealed(rsa_key, message("to the alias", frm="news@origin.test", to="list@example.test")),
         rcpt="list@example.test")
    got = peer.wait_messages(1, log=t.log)[0].data
    # our set is on top, above our Received field
    names = [line.split(b":", 1)[0] for line in got.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
             if line and line[:1] not in (b" ", b"\t")]
    assert names[:4] == [b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results", b"Received"], names
    fields = dict((n, v) for n, v in arc_fields(got)[:3])
    assert re.match(rb"i=2; a=rsa-sha256; cv=pass; d=example\.test; s=" + sel.encode() + b";", fields[b"ARC-Seal"])
    assert fields[b"ARC-Message-Signature"].startswith(b"i=2; a=rsa-sha256; c=relaxed/relaxed; d=example.test;")
    aar = fields[b"ARC-Authentication-Results"]
    assert aar.startswith(b"i=2; mx.example.test;") and b"arc=pass (i=1)" in aar, aar
    cv, results, why = dkim.arc_verify(got, dnsfunc=dnsfunc_for(ns))
    assert cv == b"pass", (why, results)
    assert [r["instance"] for r in results] == [2, 1] and all(r["as-valid"] for r in results), results
    assert results[0]["ams-valid"]
    t.wait_log(r'msg="ARC sealed" id=\S+ i=2 cv=pass d=example\.test s=%s' % sel)
    # the altered copy is caught by dkimpy too
    bad = got.replace(b"Subject: to the alias", b"Subject: to the a1ias")
    assert dkim.arc_verify(bad, dnsfunc=dnsfunc_for(ns))[0] == b"fail"


def test_forwarded_without_chain_is_sealed_i1(world):
    t, ns, peer, sel = world()
    send(t, message("direct", frm="x@origin.test", to="list@example.test").encode(), rcpt="list@example.test")
    got = peer.wait_messages(1, log=t.log)[0].data
    fields = arc_fields(got)
    assert [n for n, _ in fields] == [b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results"]
    assert fields[0][1].startswith(b"i=1; a=rsa-sha256; cv=none; d=example.test;")
    assert b"arc=none" in fields[2][1]
    cv, results, why = dkim.arc_verify(got, dnsfunc=dnsfunc_for(ns))
    assert cv == b"pass", (why, results)
    assert [r["instance"] for r in results] == [1]


def test_forwarded_without_key_goes_unsealed(world, rsa_key):
    t, _, peer, _ = world(keyed=False)
    send(t, message("no key", frm="x@origin.test", to="list@example.test").encode(), rcpt="list@example.test")
    got = peer.wait_messages(1, log=t.log)[0].data
    assert not arc_fields(got)
    assert b"Authentication-Results: mx.example.test;" in got
    t.wait_log(r'msg="forwarded without an ARC seal" id=\S+ domain=example\.test reason="no DKIM key for the domain"')
