"""
tern's resolver (src/dns/) against a real DNS server, through `tern dns
lookup TYPE NAME` (src/cli/dns.c): the records of every type tern asks for,
NXDOMAIN / NODATA, DNSSEC (secure, bogus), unreachable nameservers, and the
names and configurations the command refuses.  Every expected output is
exact: first line status, then the records; where the DNS gives no order
(the records of one RRset, MX hosts of equal preference) they are compared
sorted.

One NSD (dnsserver.py) serves all the zones of this module; each test only
writes a config (make_tern(start=False)) and runs the CLI, which as root
drops to the tern user like serve does.
"""
import os
import socket
import subprocess
import time

import pytest

from conftest import SANITIZER_MARKERS, TERN
from dnsserver import DNSServer

LONG_A = "a" * 200
LONG_B = "b" * 100

ZONES = {
    # Signed with a KSK and a ZSK.
    "example.test": [
        "@ MX 20 mx2",
        "@ MX 10 mx1",
        "@ MX 10 mx1b",
        "@ MX 30 MX3.Example.TEST.",
        "@ MX 5 mx0",
        "mx0 A 127.0.0.10",
        "mx1 A 127.0.0.2",
        "mx1 AAAA 2001:db8::1",
        "mx1b A 127.0.0.3",
        "mx2 A 127.0.0.5",
        "mx2 A 127.0.0.4",
        "mx2 AAAA 2001:0db8:0000:0000:0000:0000:0000:0002",
        "mx2 AAAA ::ffff:192.0.2.7",
        "mx3 A 127.0.0.6",
        "alias CNAME mx1",
        "xn--bcher-kva A 127.0.0.7",
        'spf TXT "v=spf1 " "ip4:127.0.0.0/8" " -all"',
        'long TXT "%s" "%s"' % (LONG_A, LONG_B),
        # a backslash, a quote, a tab, a byte > 0x7f, a NUL, a space at the end
        r'odd TXT "back\\slash \"quoted\"\009tab\255\000nul " ""',
        'empty TXT ""',
        'empties TXT "" "x" ""',
        'two TXT "first"',
        'two TXT "second"',
        "_25._tcp.mx1 TLSA 3 1 1 0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef",
        "_25._tcp.mx1 TLSA 2 0 2 "
        + "00112233445566778899aabbccddeeff" * 4,
        "_25._tcp.mx2 TLSA 3 0 0 30",
        "nomx A 127.0.0.9",
    ],
    # Signed with one key (flags 257) doing everything.
    "csk.test": ["@ MX 10 mx1.example.test.", "www A 127.0.0.11"],
    # Signed, then an A record changed after signing: its RRSIG no longer matches.
    "tampered.test": ["@ MX 10 mx", "mx A 127.0.0.12", "ok A 127.0.0.13"],
    "null.test": ["@ MX 0 ."],
    "unsigned.test": ["@ MX 10 mx1.example.test.", "www A 127.0.0.14"],
    "2.0.192.in-addr.arpa": ["1 PTR mx1.example.test.", "2 PTR MX2.Example.TEST.", "2 PTR second.example.test."],
    "10.in-addr.arpa": ["4.3.2 PTR lan-host.example.test."],
    "8.b.d.0.1.0.0.2.ip6.arpa": [
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mx1.example.test.",
        "f.e.d.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR v6.example.test.",
    ],
}
SIGNED = {"example.test": "ksk+zsk", "csk.test": "csk", "tampered.test": "csk"}
TAMPER = {"tampered.test": [(r"(mx\.tampered\.test\.\s+\d+\s+IN\s+A\s+)127\.0\.0\.12", r"\g<1>127.0.0.99")]}


@pytest.fixture(scope="module")
def dns():
    with DNSServer(ZONES, signed=SIGNED, tamper=TAMPER, ipv6=socket.has_ipv6 and _have_ipv6()) as d:
        yield d


def _have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def tdns(make_tern, dns):
    """A config whose [dns] points at the module's NSD, with its trust anchor."""
    return make_tern(start=False, provisioned=False, dns=dns.dns_config())


def lookup(t, rtype, name):
    """(exit code, stdout, stderr) of `tern dns lookup`, no sanitizer report allowed."""
    r = t.cli("dns", "lookup", rtype, name, check=False)
    for marker in SANITIZER_MARKERS:
        assert marker not in r.stderr, r.stderr
    return r.returncode, r.stdout, r.stderr


def ok(t, rtype, name):
    """The output of a lookup that must succeed with exit 0 and nothing on stderr."""
    rc, out, err = lookup(t, rtype, name)
    assert (rc, err) == (0, ""), (rtype, name, rc, out, err)
    return out


def test_mx_sorted_by_preference(tdns):
    out = ok(tdns, "mx", "example.test").splitlines()
    assert out[0] == "status=OK secure=yes"
    assert out[1] == "5 mx0.example.test"
    # equal preferences: both kept, in either order (RFC 5321 §5.1 wants them shuffled)
    assert sorted(out[2:4]) == ["10 mx1.example.test", "10 mx1b.example.test"]
    # lower-cased, no trailing dot
    assert out[4:] == ["20 mx2.example.test", "30 mx3.example.test"]
    # a trailing dot and upper case in the query change nothing
    out2 = ok(tdns, "MX", "EXAMPLE.test.").splitlines()
    assert out2[:2] == out[:2] and sorted(out2[2:4]) == sorted(out[2:4]) and out2[4:] == out[4:]


def test_null_mx(tdns):
    assert ok(tdns, "mx", "null.test") == "status=OK secure=no\n0 .\n"


def test_a_and_aaaa(tdns):
    assert ok(tdns, "a", "mx1.example.test") == "status=OK secure=yes\n127.0.0.2\n"
    out = ok(tdns, "a", "mx2.example.test").splitlines()
    assert out[0] == "status=OK secure=yes" and sorted(out[1:]) == ["127.0.0.4", "127.0.0.5"]
    assert ok(tdns, "aaaa", "mx1.example.test") == "status=OK secure=yes\n2001:db8::1\n"
    # the canonical text form (RFC 5952), whatever the zone file wrote
    out = ok(tdns, "aaaa", "mx2.example.test").splitlines()
    assert out[0] == "status=OK secure=yes" and sorted(out[1:]) == ["2001:db8::2", "::ffff:192.0.2.7"]
    # through a CNAME
    assert ok(tdns, "a", "alias.example.test") == "status=OK secure=yes\n127.0.0.2\n"
    # Unicode becomes A-labels
    assert ok(tdns, "a", "bücher.example.test") == "status=OK secure=yes\n127.0.0.7\n"


def test_txt(tdns):
    # the character-strings of one record are concatenated, with nothing between
    assert ok(tdns, "txt", "spf.example.test") == "status=OK secure=yes\nv=spf1 ip4:127.0.0.0/8 -all\n"
    assert ok(tdns, "txt", "long.example.test") == "status=OK secure=yes\n%s%s\n" % (LONG_A, LONG_B)
    # '\' and bytes outside printable ASCII as \DDD, '"' and spaces as they are
    assert ok(tdns, "txt", "odd.example.test") == (
        'status=OK secure=yes\nback\\092slash "quoted"\\009tab\\255\\000nul \n')
    assert ok(tdns, "txt", "empty.example.test") == "status=OK secure=yes\n\n"
    assert ok(tdns, "txt", "empties.example.test") == "status=OK secure=yes\nx\n"
    out = ok(tdns, "txt", "two.example.test").splitlines()
    assert out[0] == "status=OK secure=yes" and sorted(out[1:]) == ["first", "second"]


def test_tlsa(tdns):
    out = ok(tdns, "tlsa", "_25._tcp.mx1.example.test").splitlines()
    assert out[0] == "status=OK secure=yes"
    assert sorted(out[1:]) == [
        "2 0 2 " + "00112233445566778899aabbccddeeff" * 4,
        "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]
    assert ok(tdns, "tlsa", "_25._tcp.mx2.example.test") == "status=OK secure=yes\n3 0 0 30\n"


def test_ptr_ipv4_and_ipv6(tdns):
    assert ok(tdns, "ptr", "192.0.2.1") == "status=OK secure=no\nmx1.example.test\n"
    out = ok(tdns, "ptr", "192.0.2.2").splitlines()
    assert out[0] == "status=OK secure=no" and sorted(out[1:]) == ["mx2.example.test", "second.example.test"]
    # a private range: asked of the configured nameservers, not answered by libunbound itself
    assert ok(tdns, "ptr", "10.2.3.4") == "status=OK secure=no\nlan-host.example.test\n"
    assert ok(tdns, "ptr", "2001:db8::1") == "status=OK secure=no\nmx1.example.test\n"
    assert ok(tdns, "ptr", "2001:0db8:0:0::cdef") == "status=OK secure=no\nv6.example.test\n"
    assert ok(tdns, "ptr", "192.0.2.3") == "status=NXDOMAIN secure=no\n"
    # loopback is libunbound's own (localhost), never asked
    assert ok(tdns, "ptr", "127.0.0.1") == "status=OK secure=no\nlocalhost\n"


def test_nxdomain_and_nodata(tdns):
    # authenticated denial in the signed zone, plain in the unsigned one
    assert ok(tdns, "mx", "nope.example.test") == "status=NXDOMAIN secure=yes\n"
    assert ok(tdns, "a", "nope.unsigned.test") == "status=NXDOMAIN secure=no\n"
    assert ok(tdns, "mx", "nomx.example.test") == "status=NODATA secure=yes\n"
    assert ok(tdns, "tlsa", "_25._tcp.mx3.example.test") == "status=NXDOMAIN secure=yes\n"
    assert ok(tdns, "aaaa", "www.unsigned.test") == "status=NODATA secure=no\n"
    # an empty non-terminal exists: NODATA, not NXDOMAIN
    assert ok(tdns, "a", "_tcp.mx1.example.test") == "status=NODATA secure=yes\n"


def test_dnssec_secure_with_ds_and_dnskey_anchors(make_tern, dns):
    for anchor in (dns.trust_anchor, dns.trust_anchor_dnskey):
        t = make_tern(start=False, provisioned=False, dns={"nameservers": dns.nameservers, "trust_anchor": anchor})
        assert ok(t, "mx", "csk.test") == "status=OK secure=yes\n10 mx1.example.test\n"
        assert ok(t, "a", "mx1.example.test") == "status=OK secure=yes\n127.0.0.2\n"
        # a zone no anchor covers is insecure, not bogus
        assert ok(t, "mx", "unsigned.test") == "status=OK secure=no\n10 mx1.example.test\n"


def test_dnssec_without_our_anchor_is_insecure(make_tern, dns):
    """The default trust anchor (the root key, when installed) cannot reach
    *.test: a signed zone there is just insecure."""
    for ta in ({}, {"trust_anchor": "none"}):
        t = make_tern(start=False, provisioned=False, dns=dict(nameservers=dns.nameservers, **ta))
        assert ok(t, "a", "mx1.example.test") == "status=OK secure=no\n127.0.0.2\n"
        assert ok(t, "a", "mx.tampered.test") == "status=OK secure=no\n127.0.0.99\n"
        assert ok(t, "mx", "nope.example.test") == "status=NXDOMAIN secure=no\n"


def test_dnssec_bogus_is_tempfail(make_tern, dns):
    t = make_tern(start=False, provisioned=False, dns=dns.dns_config())
    # a record changed after signing
    assert lookup(t, "a", "mx.tampered.test") == (
        2, 'status=TEMPFAIL secure=no bogus=yes why="validation failure <mx.tampered.test. A IN>: '
        'ECDSA signature verification failed from 127.0.0.1"\n', "")
    # the rest of that zone is still fine
    assert ok(t, "a", "ok.tampered.test") == "status=OK secure=yes\n127.0.0.13\n"

    # a trust anchor for a key that is not the zone's
    wrong = dns.foreign_trust_anchor("example.test")
    t = make_tern(start=False, provisioned=False, dns={"nameservers": dns.nameservers, "trust_anchor": wrong})
    why = ("validation failure <mx1.example.test. A IN>: no keys have a DS with algorithm "
           "ECDSAP256SHA256 from 127.0.0.1 for trust anchor example.test. while building chain of trust")
    assert lookup(t, "a", "mx1.example.test") == (2, 'status=TEMPFAIL secure=no bogus=yes why="%s"\n' % why, "")
    rc, out, err = lookup(t, "mx", "nope.example.test")   # denial is not trusted either
    assert (rc, err) == (2, "") and out.startswith("status=TEMPFAIL secure=no bogus=yes why=")

    # an anchor for a zone that is served unsigned: its answers are stripped of signatures
    wrong = dns.foreign_trust_anchor("unsigned.test")
    t = make_tern(start=False, provisioned=False, dns={"nameservers": dns.nameservers, "trust_anchor": wrong})
    why = ("validation failure <unsigned.test. MX IN>: no DNSKEY rrset from 127.0.0.1 for trust anchor "
           "unsigned.test. while building chain of trust")
    assert lookup(t, "mx", "unsigned.test") == (2, 'status=TEMPFAIL secure=no bogus=yes why="%s"\n' % why, "")


def test_reload_changed_zone(make_dns, make_tern):
    """dnsserver.set_zone: a changed (re-signed) zone is what the next lookup sees."""
    d = make_dns({"change.test": ["@ MX 10 one"]}, signed=["change.test"])
    t = make_tern(start=False, provisioned=False, dns=d.dns_config())
    assert ok(t, "mx", "change.test") == "status=OK secure=yes\n10 one.change.test\n"
    d.set_zone("change.test", ["@ MX 20 two", "@ MX 30 three"])
    assert ok(t, "mx", "change.test") == "status=OK secure=yes\n20 two.change.test\n30 three.change.test\n"


def test_not_in_any_served_zone_is_tempfail(tdns):
    # NSD refuses what it is not authoritative for; libunbound makes that SERVFAIL
    assert lookup(tdns, "a", "www.example.org") == (2, 'status=TEMPFAIL secure=no why="SERVFAIL"\n', "")


def test_nameserver_list(make_tern, dns):
    """A list with a dead server first still answers; IPv6 in brackets."""
    dead = _dead_port()
    t = make_tern(start=False, provisioned=False,
                  dns={"nameservers": " 127.0.0.1:%d ,%s" % (dead, dns.nameservers), "trust_anchor": dns.trust_anchor})
    start = time.monotonic()
    assert ok(t, "a", "mx1.example.test") == "status=OK secure=yes\n127.0.0.2\n"
    assert time.monotonic() - start < 15
    if dns.ipv6:
        t = make_tern(start=False, provisioned=False,
                      dns={"nameservers": dns.nameservers6, "trust_anchor": dns.trust_anchor})
        assert ok(t, "a", "mx1.example.test") == "status=OK secure=yes\n127.0.0.2\n"


def _bound_pair():
    """UDP and TCP sockets bound to one port on 127.0.0.1. The kernel picks the
    UDP port; that port may be taken for TCP (CI once hit it: EADDRINUSE), so
    another is tried."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", u.getsockname()[1]))
            return u, t
        except OSError:
            u.close()
            t.close()
    raise RuntimeError("no port free for both UDP and TCP")


def _dead_port():
    """A port where nothing listens (UDP or TCP) on 127.0.0.1."""
    u, t = _bound_pair()
    port = u.getsockname()[1]
    u.close()
    t.close()
    return port


def _silent_port(held):
    """A port where UDP and TCP are bound but nothing is ever answered."""
    u, t = _bound_pair()
    t.listen(16)
    held += [u, t]
    return u.getsockname()[1]


def test_unreachable_nameserver_is_tempfail(make_tern):
    """Run side by side, all TEMPFAIL (exit 2):
    - a closed port (ICMP unreachable) and a server that never answers:
      libunbound gives up after about 17 s of retries (SERVFAIL), a little
      before the resolver's own deadline (20 s, DNS_QUERY_TIMEOUT_MS);
    - two servers that never answer: libunbound would retry for about 35 s,
      so the deadline ends it (why="timeout")."""
    held = []
    try:
        servers = {
            "dead": "127.0.0.1:%d" % _dead_port(),
            "silent": "127.0.0.1:%d" % _silent_port(held),
            "two silent": "127.0.0.1:%d, 127.0.0.1:%d" % (_silent_port(held), _silent_port(held)),
        }
        procs = {}
        for what, ns in servers.items():
            t = make_tern(start=False, provisioned=False, dns={"nameservers": ns})
            procs[what] = subprocess.Popen([TERN, "-c", t.conf, "dns", "lookup", "mx", "example.test"],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        start = time.monotonic()
        servfail = 'status=TEMPFAIL secure=no why="SERVFAIL"\n'
        timeout = 'status=TEMPFAIL secure=no why="timeout"\n'
        for what, p in procs.items():
            out, err = p.communicate(timeout=40)
            assert (p.returncode, err) == (2, ""), (what, p.returncode, err)
            if what == "two silent":
                assert out == timeout, (what, out)
            else:
                assert out in (servfail, timeout), (what, out)
        assert time.monotonic() - start < 24
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("rtype,name,message", [
    ("mx", "bad..name", "not a valid domain name: 'bad..name'"),
    ("mx", ".", "not a valid domain name: '.'"),
    ("a", "", "not a valid domain name: ''"),
    ("a", "x" * 64 + ".test", "not a valid domain name: '%s.test'" % ("x" * 64)),
    # 254 characters: one more than a name can have (255 octets on the wire)
    ("a", ("a" * 63 + ".") * 3 + "b" * 57 + ".test",
     "not a valid domain name: '%s'" % (("a" * 63 + ".") * 3 + "b" * 57 + ".test")),
    ("a", ("a" * 63 + ".") * 3 + "b" * 57 + ".test.",
     "not a valid domain name: '%s'" % (("a" * 63 + ".") * 3 + "b" * 57 + ".test.")),
    ("a", "back\\.slash.test", "not a valid domain name: 'back\\.slash.test'"),
    ("a", "sp ace.test", "not a valid domain name: 'sp ace.test'"),
    ("a", "☃..test", "not a valid domain name: '☃..test'"),
    ("ptr", "mx1.example.test", "a PTR lookup takes an IP address, not 'mx1.example.test'"),
    ("ptr", "192.0.2", "a PTR lookup takes an IP address, not '192.0.2'"),
])
def test_bad_name_is_exit_1(tdns, rtype, name, message):
    assert lookup(tdns, rtype, name) == (1, "", "tern: dns lookup: %s\n" % message)


def test_longest_valid_name_is_asked(tdns):
    """253 characters (255 octets on the wire) is a name; it just does not exist."""
    name = ("a" * 63 + ".") * 3 + "b" * 48 + ".example.test"
    assert len(name) == 253
    assert ok(tdns, "a", name) == "status=NXDOMAIN secure=yes\n"
    assert ok(tdns, "a", name + ".") == "status=NXDOMAIN secure=yes\n"


def test_usage_errors(tdns):
    usage = "tern: dns lookup: usage: tern dns lookup a|aaaa|mx|txt|tlsa|ptr NAME\n"
    assert lookup(tdns, "soa", "example.test") == (1, "", usage)
    r = tdns.cli("dns", "lookup", "mx", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", usage)
    r = tdns.cli("dns", "resolve", "mx", "example.test", check=False)
    assert (r.returncode, r.stdout) == (1, "") and r.stderr.startswith("tern: dns resolve: unknown command")


def test_bad_resolver_config_is_exit_2(make_tern, dns):
    garbage = os.path.join(dns.dir, "garbage.ds")    # readable by the tern user
    with open(garbage, "w") as f:
        f.write("this is not a DS record\n")
    os.chmod(garbage, 0o644)
    for cfg, logged in [
        ({"nameservers": "127.0.0.1:99999"}, 'msg="bad nameserver" value=127.0.0.1:99999'),
        ({"nameservers": "127.0.0.1:%d,,127.0.0.1" % dns.port}, 'msg="bad nameserver" value=""'),
        ({"nameservers": "ns.example.test"}, 'msg="bad nameserver" value=ns.example.test'),
        ({"nameservers": dns.nameservers, "trust_anchor": os.path.join(dns.dir, "missing.ds")},
         'msg="cannot read the trust anchor"'),
        ({"nameservers": dns.nameservers, "trust_anchor": garbage},
         'msg="cannot set up the resolver (trust anchor or options)"'),
    ]:
        t = make_tern(start=False, provisioned=False, dns=cfg)
        rc, out, err = lookup(t, "mx", "example.test")
        assert (rc, out) == (2, ""), (cfg, rc, out, err)
        assert logged in err, (cfg, err)
        assert err.endswith("tern: dns lookup: cannot start the resolver (details in the log above)\n"), err
