"""`tern dns records DOMAIN`: the records an operator publishes, in zone-file
syntax.  Checked by loading them into NSD (tests/e2e/dnsserver.py) and
asking tern's own resolver for them back: a typo in the output would not
survive a real zone parser."""

import base64
import hashlib
import re
import subprocess


def records(t, domain="example.test"):
    return t.cli("dns", "records", domain).stdout


def test_records_cover_every_mechanism(make_tern):
    t = make_tern()
    out = records(t)
    lines = [line for line in out.splitlines() if line and not line.startswith(";")]
    assert "example.test.\tIN MX\t10 mx.example.test." in lines
    assert 'example.test.\tIN TXT\t"v=spf1 mx -all"' in lines
    assert 'mx.example.test.\tIN TXT\t"v=spf1 a -all"' in lines
    assert any(line.startswith('_dmarc.example.test.\tIN TXT\t"v=DMARC1; p=reject; rua=mailto:') for line in lines)
    assert any(re.match(r'_mta-sts\.example\.test\.\tIN TXT\t"v=STSv1; id=\d{14}"$', line) for line in lines)
    assert 'mta-sts.example.test.\tIN CNAME\tmx.example.test.' in lines
    assert any(line.startswith('_smtp._tls.example.test.\tIN TXT\t"v=TLSRPTv1; rua=mailto:') for line in lines)
    assert "_submissions._tcp.example.test.\tIN SRV\t0 1 465 mx.example.test." in lines
    assert "_imap._tcp.example.test.\tIN SRV\t0 0 0 ." in lines
    assert "mode: enforce" in out and "mx: mx.example.test" in out
    assert "tern dkim keygen example.test" in out     # no key yet: says how to make one


def test_tlsa_matches_the_certificate(make_tern, certs):
    t = make_tern()
    out = records(t)
    m = re.search(r"^_25\._tcp\.mx\.example\.test\.\tIN TLSA\t3 1 1 ([0-9a-f]{64})$", out, re.M)
    assert m, out
    der = subprocess.run(["openssl", "x509", "-in", certs[0], "-pubkey", "-noout"], capture_output=True,
                         check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, capture_output=True,
                          check=True).stdout
    assert m.group(1) == hashlib.sha256(spki).hexdigest()


def test_dkim_keys_listed_active_first(make_tern):
    t = make_tern()
    t.cli("dkim", "keygen", "example.test", "--selector", "old")
    t.cli("dkim", "keygen", "example.test", "--ed25519", "--selector", "new")
    out = records(t)
    txt = re.findall(r'^(\w+)\._domainkey\.example\.test\.\tIN TXT\t(.*)$', out, re.M)
    assert [sel for sel, _ in txt] == ["new", "old"], out
    assert "selector new (active" in out and "selector old (not active)" in out
    value = "".join(re.findall(r'"([^"]*)"', txt[0][1]))
    assert value.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(value.split("p=")[1])) == 32
    rsa = "".join(re.findall(r'"([^"]*)"', txt[1][1]))
    assert rsa.startswith("v=DKIM1; k=rsa; p=")
    # strings of a TXT record are at most 255 octets
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', txt[1][1]))


def test_records_load_into_a_real_zone(make_tern, make_dns):
    t = make_tern()
    t.cli("dkim", "keygen", "example.test")
    out = records(t)
    zone = [line for line in out.splitlines() if line and not line.startswith(";")]
    dns = make_dns({"example.test": zone})
    t2 = make_tern(dns={"nameservers": dns.nameservers})
    got = t2.cli("dns", "lookup", "txt", "_dmarc.example.test").stdout
    assert "v=DMARC1; p=reject" in got
    sel = re.search(r"^(\S+)\._domainkey", out, re.M).group(1)
    got = t2.cli("dns", "lookup", "txt", sel + "._domainkey.example.test").stdout
    assert "v=DKIM1; k=rsa; p=" in got


def test_not_a_local_domain(make_tern):
    t = make_tern()
    r = t.cli("dns", "records", "elsewhere.example", check=False)
    assert r.returncode == 1 and "not a local domain" in r.stderr
    r = t.cli("dns", "records", check=False)
    assert r.returncode == 1
