"""
MTA-STS (RFC 8461, src/mta/sts*.c) against a real DNS server (NSD,
dnsserver.py) and a real HTTPS server (httpsserver.py, certificates from
a test CA made with the openssl CLI), through `tern dns mta-sts DOMAIN`
(src/cli/dns.c): discovery (the _mta-sts TXT record), the HTTPS fetch and
everything it must refuse (a certificate of another CA or for another
name, redirects, other statuses, other media types, oversized bodies,
invalid policies), and the cache in data_dir/mta-sts/ (the TXT id
unchanged: no fetch; the TXT record gone, or the fetch of a new id
failing: the cached policy still applies; expired or corrupt files).

One NSD and one HTTPS server (on 127.0.0.47, a port the kernel picks, all
mta-sts.* names pointing there) serve the module; the cache tests get a
zone of their own so they can rewrite it.  tern is only configured
(make_tern(start=False)): [dns] nameservers, [delivery] mta_sts_port and
tls_ca_file (the test CA, world-readable: the CLI drops to user tern).
"""
import os
import shutil
import tempfile
import time

import pytest

from conftest import SANITIZER_MARKERS
from dnsserver import DNSServer
from httpsserver import HTTPSServer, LocalCA

WEB_IP = "127.0.0.47"
PATH = "/.well-known/mta-sts.txt"
ZONE = "sts.test"

GOOD = ("version: STSv1\r\n"
        "mode: enforce\r\n"
        "mx: mx1.good.sts.test\r\n"
        "mx:*.Mail.Good.sts.test.  \r\n"
        "max_age: 86400\r\n"
        "mode: testing\r\n"          # a duplicate: the first counts (RFC 8461 §3.2)
        "comment: unknown keys are ignored\r\n")
TESTING = "version: STSv1\nmode: testing\nmx: mx.testing.sts.test\nmax_age: 600\n"
NONE_MODE = "version: STSv1\nmode: none\nmax_age: 3600\n"
BIG_PAD = "x-pad: " + "y" * 1000 + "\n"

# Each policy domain D has its TXT at _mta-sts.D and mta-sts.D pointing at the web server.
SITES = {
    "good": '"v=STSv1; id=good1;"',
    "testing": '"v=STSv1; id=t1"',
    "nonemode": '"v=STSv1; id=n1"',
    "charset": '"v=STSv1; id=c1"',
    "split": '"v=STSv1; " "id=split1"',
    "wrongca": '"v=STSv1; id=w1"',
    "wrongname": '"v=STSv1; id=w2"',
    "redirect": '"v=STSv1; id=r1"',
    "notfound": '"v=STSv1; id=nf1"',
    "error": '"v=STSv1; id=e1"',
    "big": '"v=STSv1; id=b1"',
    "bigstream": '"v=STSv1; id=b2"',
    "limit": '"v=STSv1; id=l1"',
    "html": '"v=STSv1; id=h1"',
    "notype": '"v=STSv1; id=h2"',
    "invalid": '"v=STSv1; id=i1"',
}
RECORDS = []
for name, txt in SITES.items():
    RECORDS += ["_mta-sts.%s TXT %s" % (name, txt), "mta-sts.%s A %s" % (name, WEB_IP)]
RECORDS += [
    # No TXT record at all (but a policy host that would answer).
    "mta-sts.notxt A " + WEB_IP,
    # TXT records, none of them STSv1.
    '_mta-sts.other TXT "v=spf1 -all"',
    '_mta-sts.other TXT "v=STSv10; id=x"',
    # Two STSv1 records: no policy (§3.1).
    '_mta-sts.two TXT "v=STSv1; id=a1"',
    '_mta-sts.two TXT "v=STSv1; id=a2"',
    "mta-sts.two A " + WEB_IP,
    # STSv1 but malformed id.
    '_mta-sts.badid TXT "v=STSv1; id=not_alnum"',
    "mta-sts.badid A " + WEB_IP,
    # A policy announced, no host to fetch it from.
    '_mta-sts.noaddr TXT "v=STSv1; id=x1"',
]


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="tern-sts-pki-")
    os.chmod(d, 0o755)
    ca = LocalCA(os.path.join(d, "ca"))
    other = LocalCA(os.path.join(d, "other"), name="some other CA")
    yield ca, other
    shutil.rmtree(d, ignore_errors=True)


def _certs(ca, other, names):
    certs = {}
    for n in names:
        host = "mta-sts.%s.%s" % (n, ZONE)
        if n == "wrongca":
            certs[host] = other.issue(host)
        elif n == "wrongname":
            certs[host] = ca.issue("www.wrongname." + ZONE, cn=host)   # the CN does not count, only the SAN
        else:
            certs[host] = ca.issue(host)
    return certs


@pytest.fixture(scope="module")
def web(pki):
    ca, other = pki
    names = list(SITES) + ["notxt", "two", "badid"]
    with HTTPSServer(WEB_IP, _certs(ca, other, names)) as w:
        def site(n, body, **kw):
            w.route("mta-sts.%s.%s" % (n, ZONE), PATH, body, **kw)
        for n in ("good", "wrongca", "wrongname", "notxt", "two", "badid"):
            site(n, GOOD)
        site("split", GOOD)
        site("testing", TESTING)
        site("nonemode", NONE_MODE)
        site("charset", TESTING, content_type="Text/Plain; charset=utf-8")
        site("redirect", "moved\n", status=301,
             headers={"Location": "https://mta-sts.good.%s%s" % (ZONE, PATH)})
        site("notfound", "no\n", status=404)
        site("error", TESTING, status=500)
        big = TESTING + BIG_PAD * 70
        site("big", big)
        site("bigstream", big, length=False)
        # Exactly the limit (65536 octets) is still taken.
        limit = TESTING + BIG_PAD * 64
        limit += "x-pad: " + "z" * (65536 - len(limit) - 8) + "\n"
        assert len(limit) == 65536
        site("limit", limit)
        site("html", TESTING, content_type="text/html")
        site("notype", TESTING, content_type=None)
        site("invalid", "version: STSv1\nmode: enforce\nmx: mx.invalid.sts.test\n")
        yield w


@pytest.fixture(scope="module")
def dns():
    with DNSServer({ZONE: RECORDS}) as d:
        yield d


@pytest.fixture
def sts_tern(make_tern, dns, web, pki):
    def factory(**delivery):
        conf = {"mta_sts_port": str(web.port), "tls_ca_file": pki[0].cert}
        conf.update(delivery)
        return make_tern(start=False, provisioned=False, dns=dns.dns_config(), delivery=conf)
    return factory


def sts(t, *args):
    """(exit code, stdout lines, stderr) of `tern dns mta-sts ARGS`, no sanitizer report allowed."""
    r = t.cli("dns", "mta-sts", *args, check=False)
    for marker in SANITIZER_MARKERS:
        assert marker not in r.stderr, r.stderr
    return r.returncode, r.stdout.splitlines(), r.stderr


def fetched(web, name):
    return [p for h, p in web.requests if h == "mta-sts.%s.%s" % (name, ZONE)]


# ---- policies taken -----------------------------------------------------------

def test_enforce_policy(sts_tern, web):
    t = sts_tern()
    rc, out, err = sts(t, "good.sts.test")
    assert (rc, err) == (0, ""), (out, err)
    assert out == ["status=OK mode=enforce max_age=86400 id=good1 source=fetch",
                   "mx mx1.good.sts.test",
                   "mx *.mail.good.sts.test"]
    assert PATH in fetched(web, "good")
    # Any case, a trailing dot, Unicode-free A-labels as typed.
    rc, out, _ = sts(t, "GOOD.sts.test.", "--no-cache")
    assert rc == 0 and out[0] == "status=OK mode=enforce max_age=86400 id=good1 source=fetch"


def test_testing_none_and_charset(sts_tern):
    t = sts_tern()
    assert sts(t, "testing.sts.test") == (
        0, ["status=OK mode=testing max_age=600 id=t1 source=fetch", "mx mx.testing.sts.test"], "")
    # mode none withdraws MTA-STS (RFC 8461 §8.3): no mx lines needed.
    assert sts(t, "nonemode.sts.test") == (0, ["status=OK mode=none max_age=3600 id=n1 source=fetch"], "")
    assert sts(t, "charset.sts.test")[1][0] == "status=OK mode=testing max_age=600 id=c1 source=fetch"
    # A TXT record in two strings is their concatenation (§3.1).
    assert sts(t, "split.sts.test")[1][0] == "status=OK mode=enforce max_age=86400 id=split1 source=fetch"
    # Exactly 64 KiB is within the limit.
    assert sts(t, "limit.sts.test")[1][0] == "status=OK mode=testing max_age=600 id=l1 source=fetch"


def test_mta_sts_off_in_config_still_answers_the_operator(sts_tern):
    t = sts_tern(mta_sts="no")
    rc, out, _ = sts(t, "testing.sts.test")
    assert rc == 0 and out[0].startswith("status=OK mode=testing")


# ---- no policy ------------------------------------------------------------------

def test_no_policy_announced(sts_tern, web):
    t = sts_tern()
    before = len(web.requests)
    assert sts(t, "notxt.sts.test") == (0, ['status=NONE why="no _mta-sts TXT record"'], "")
    assert sts(t, "nosuch.sts.test") == (0, ['status=NONE why="no _mta-sts TXT record"'], "")
    assert sts(t, "other.sts.test") == (0, ['status=NONE why="no v=STSv1 TXT record"'], "")
    assert sts(t, "two.sts.test") == (0, ['status=NONE why="more than one v=STSv1 TXT record"'], "")
    assert sts(t, "badid.sts.test") == (0, ['status=NONE why="invalid v=STSv1 TXT record"'], "")
    # None of these asked the policy host.
    assert len(web.requests) == before


def test_dns_failure_is_tempfail(sts_tern):
    t = sts_tern()
    # NSD refuses names outside its zones: SERVFAIL for the resolver.
    rc, out, err = sts(t, "example.org")
    assert rc == 2 and out == ['status=TEMPFAIL why="TXT lookup failed: SERVFAIL"'], (out, err)


def test_usage(sts_tern):
    t = sts_tern()
    r = t.cli("dns", "mta-sts", check=False)
    assert r.returncode == 1 and "usage: tern dns mta-sts [--no-cache] DOMAIN..." in r.stderr
    r = t.cli("dns", "mta-sts", "--no-cache", check=False)
    assert r.returncode == 1 and "usage:" in r.stderr
    r = t.cli("dns", "mta-sts", "--fresh", "a.test", check=False)
    assert r.returncode == 1 and "usage:" in r.stderr
    r = t.cli("dns", "mta-sts", "good.sts.test", "bad..name", check=False)
    assert (r.returncode, r.stdout) == (1, "") and "not a valid domain name: 'bad..name'" in r.stderr


def test_several_domains_share_one_fetch(sts_tern, web):
    """Asked at once, like deliveries running side by side: the same domain
    three times is one TXT lookup and one fetch; the output comes in the
    order asked, each block under "domain D"; the exit code is the worst."""
    t = sts_tern()
    web.requests.clear()
    rc, out, err = sts(t, "testing.sts.test", "--no-cache", "good.sts.test", "testing.sts.test",
                       "notxt.sts.test", "Testing.STS.test")
    testing = ["status=OK mode=testing max_age=600 id=t1 source=fetch", "mx mx.testing.sts.test"]
    assert (rc, err) == (0, "")
    assert out == (["domain testing.sts.test"] + testing
                   + ["domain good.sts.test", "status=OK mode=enforce max_age=86400 id=good1 source=fetch",
                      "mx mx1.good.sts.test", "mx *.mail.good.sts.test"]
                   + ["domain testing.sts.test"] + testing
                   + ["domain notxt.sts.test", 'status=NONE why="no _mta-sts TXT record"']
                   + ["domain testing.sts.test"] + testing)
    assert sorted(web.requests) == [("mta-sts.good.sts.test", PATH), ("mta-sts.testing.sts.test", PATH)]
    rc, out, _ = sts(t, "good.sts.test", "notfound.sts.test", "--no-cache")
    assert rc == 2 and out[4:] == ["domain notfound.sts.test", 'status=FAIL why="policy fetch failed: HTTP status 404"']


# ---- fetches refused ------------------------------------------------------------

def fail(t, domain):
    rc, out, err = sts(t, domain)
    assert rc == 2 and len(out) == 1 and out[0].startswith('status=FAIL why="policy fetch failed: '), (out, err)
    return out[0]


def test_certificate_of_another_ca(sts_tern, web):
    t = sts_tern()
    line = fail(t, "wrongca.sts.test")
    assert "certificate" in line, line
    # The request never got through.
    assert fetched(web, "wrongca") == []


def test_certificate_for_another_name(sts_tern, web):
    t = sts_tern()
    line = fail(t, "wrongname.sts.test")
    assert "mta-sts.wrongname.sts.test" in line, line
    assert fetched(web, "wrongname") == []


def test_system_store_does_not_know_the_test_ca(make_tern, dns, web):
    """Without tls_ca_file the system's store is used, which does not know the test CA."""
    t = make_tern(start=False, provisioned=False, dns=dns.dns_config(),
                  delivery={"mta_sts_port": str(web.port)})
    assert "certificate" in fail(t, "good.sts.test")


def test_redirect_not_followed(sts_tern, web):
    t = sts_tern()
    web.requests.clear()
    line = fail(t, "redirect.sts.test")
    assert line == 'status=FAIL why="policy fetch failed: HTTP status 301 (redirects are not followed)"'
    assert web.requests == [("mta-sts.redirect.sts.test", PATH)]


def test_status_other_than_200(sts_tern):
    t = sts_tern()
    assert fail(t, "notfound.sts.test") == 'status=FAIL why="policy fetch failed: HTTP status 404"'
    assert fail(t, "error.sts.test") == 'status=FAIL why="policy fetch failed: HTTP status 500"'


def test_too_big(sts_tern):
    t = sts_tern()
    want = 'status=FAIL why="policy fetch failed: the policy is larger than 65536 octets"'
    assert fail(t, "big.sts.test") == want            # refused on its Content-Length
    assert fail(t, "bigstream.sts.test") == want      # refused while reading


def test_media_type(sts_tern):
    t = sts_tern()
    assert fail(t, "html.sts.test") == 'status=FAIL why="policy fetch failed: media type text/html, not text/plain"'
    assert fail(t, "notype.sts.test") == 'status=FAIL why="policy fetch failed: media type missing, not text/plain"'


def test_invalid_policy(sts_tern):
    t = sts_tern()
    assert fail(t, "invalid.sts.test") == 'status=FAIL why="policy fetch failed: invalid policy: no max_age"'


def test_no_policy_host(sts_tern):
    t = sts_tern()
    assert fail(t, "noaddr.sts.test") == 'status=FAIL why="policy fetch failed: mta-sts.noaddr.sts.test has no address"'


# ---- the cache --------------------------------------------------------------------

CZONE = "cache.test"
CHOST = "mta-sts.pol." + CZONE


def czone(txt_id=None):
    recs = ["mta-sts.pol A " + WEB_IP]
    if txt_id:
        recs.append('_mta-sts.pol TXT "v=STSv1; id=%s"' % txt_id)
    return recs


@pytest.fixture
def cache_env(make_dns, make_tern, pki):
    ca, _ = pki
    with HTTPSServer(WEB_IP, {CHOST: ca.issue(CHOST)}) as w:
        d = make_dns({CZONE: czone("one")})
        t = make_tern(start=False, provisioned=False, dns=d.dns_config(),
                      delivery={"mta_sts_port": str(w.port), "tls_ca_file": ca.cert})
        yield t, d, w


def cache_file(t):
    return os.path.join(t.data_dir, "mta-sts", "pol." + CZONE)


def test_cache_used_while_id_unchanged(cache_env):
    t, d, w = cache_env
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 604800\n")
    first = ["status=OK mode=enforce max_age=604800 id=one source=fetch", "mx *.pol.cache.test"]
    assert sts(t, "pol.cache.test") == (0, first, "")
    assert len(w.requests) == 1
    with open(cache_file(t)) as f:
        text = f.read()
    head, rest = text.split("\n", 1)
    assert head.startswith("tern-mta-sts-cache 1 id=one fetched=")
    assert abs(int(head.split("fetched=")[1]) - time.time()) < 60
    assert rest == "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 604800\n"

    # Same id: the cache answers, the policy host is not asked (even though it now fails).
    w.route(CHOST, PATH, "gone", status=404)
    cached = ["status=OK mode=enforce max_age=604800 id=one source=cache", "mx *.pol.cache.test"]
    assert sts(t, "pol.cache.test") == (0, cached, "")
    assert len(w.requests) == 1

    # A new id whose fetch fails: the valid cached policy still applies (RFC 8461 §5.1), and the
    # failure of a policy in force is a warning in the log (§3.3).
    d.set_zone(CZONE, czone("two"))
    rc, out, err = sts(t, "pol.cache.test")
    assert rc == 0 and out == [cached[0] + ' why="policy fetch failed: HTTP status 404"', cached[1]]
    assert 'msg="mta-sts fetch failed" domain=pol.cache.test id=two why="HTTP status 404" cached=enforce' in err
    assert len(w.requests) == 2

    # The TXT record gone: the cached policy still applies.
    d.set_zone(CZONE, czone(None))
    assert sts(t, "pol.cache.test") == (0, [cached[0] + ' why="no _mta-sts TXT record"', cached[1]], "")
    # ...but not without the cache.
    assert sts(t, "--no-cache", "pol.cache.test") == (0, ['status=NONE why="no _mta-sts TXT record"'], "")

    # A new id that fetches: the new policy replaces the old one.
    d.set_zone(CZONE, czone("three"))
    w.route(CHOST, PATH, "version: STSv1\nmode: testing\nmx: mx.pol.cache.test\nmax_age: 60\n")
    new = ["status=OK mode=testing max_age=60 id=three source=fetch", "mx mx.pol.cache.test"]
    assert sts(t, "pol.cache.test") == (0, new, "")
    assert sts(t, "pol.cache.test")[1][0] == "status=OK mode=testing max_age=60 id=three source=cache"
    assert open(cache_file(t)).read().startswith("tern-mta-sts-cache 1 id=three ")


def test_no_cache_flag_neither_reads_nor_writes(cache_env):
    t, d, w = cache_env
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 604800\n")
    assert sts(t, "--no-cache", "pol.cache.test")[1][0].endswith("source=fetch")
    assert not os.path.exists(cache_file(t))
    assert sts(t, "pol.cache.test")[1][0].endswith("source=fetch")
    assert sts(t, "--no-cache", "pol.cache.test")[1][0].endswith("source=fetch")
    assert len(w.requests) == 3


def test_expired_and_zero_max_age(cache_env):
    t, d, w = cache_env
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 3600\n")
    assert sts(t, "pol.cache.test")[1][0].endswith("source=fetch")
    # Back-date the fetch by two hours: expired, so fetched again although the id is the same.
    path = cache_file(t)
    text = open(path).read()
    head, rest = text.split("\n", 1)
    old = int(head.split("fetched=")[1]) - 7200
    with open(path, "w") as f:
        f.write("tern-mta-sts-cache 1 id=one fetched=%d\n%s" % (old, rest))
    w.route(CHOST, PATH, "gone", status=404)
    # Expired and the fetch fails: no policy (the expired one does not count).
    rc, out, _ = sts(t, "pol.cache.test")
    assert rc == 2 and out == ['status=FAIL why="policy fetch failed: HTTP status 404"']
    assert not os.path.exists(path)     # the expired file was dropped

    # max_age 0: applies to the delivery that fetched it, never cached.
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 0\n")
    assert sts(t, "pol.cache.test")[1][0] == "status=OK mode=enforce max_age=0 id=one source=fetch"
    assert sts(t, "pol.cache.test")[1][0] == "status=OK mode=enforce max_age=0 id=one source=fetch"


def backdate(t, seconds):
    """Move the cached policy's fetch time back by seconds."""
    path = cache_file(t)
    head, rest = open(path).read().split("\n", 1)
    fetched_at = int(head.split("fetched=")[1])
    with open(path, "w") as f:
        f.write("%s fetched=%d\n%s" % (head.split(" fetched=")[0], fetched_at - seconds, rest))
    return fetched_at - seconds


def test_day_old_policy_answered_then_refreshed(cache_env):
    """RFC 8461 §3.3: a cached policy is refreshed before it expires (here:
    once it is a day old), behind an answer from the cache."""
    t, d, w = cache_env
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 604800\n")
    assert sts(t, "pol.cache.test")[1][0].endswith("source=fetch")
    old = backdate(t, 2 * 86400)
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmx: mx.pol.cache.test\n"
            "max_age: 604800\n")
    # Answered from the cache; the refresh behind it fetched and rewrote the file.
    rc, out, err = sts(t, "pol.cache.test")
    assert (rc, err) == (0, "") and out == ["status=OK mode=enforce max_age=604800 id=one source=cache",
                                            "mx *.pol.cache.test"]
    assert len(w.requests) == 2
    text = open(cache_file(t)).read()
    assert int(text.split("\n", 1)[0].split("fetched=")[1]) > old + 86400
    assert "mx: mx.pol.cache.test\n" in text
    assert sts(t, "pol.cache.test")[1] == ["status=OK mode=enforce max_age=604800 id=one source=cache",
                                           "mx *.pol.cache.test", "mx mx.pol.cache.test"]
    assert len(w.requests) == 2

    # A refresh that fails: still answered from the cache, the failure warned about, the file kept.
    old = backdate(t, 2 * 86400)
    w.route(CHOST, PATH, "down", status=503)
    rc, out, err = sts(t, "pol.cache.test")
    assert rc == 0 and out[0] == "status=OK mode=enforce max_age=604800 id=one source=cache"
    assert "level=warn sys=mta" in err and 'why="HTTP status 503" cached=enforce' in err
    assert int(open(cache_file(t)).read().split("\n", 1)[0].split("fetched=")[1]) == old


def test_corrupt_cache_file_is_ignored(cache_env):
    t, d, w = cache_env
    w.route(CHOST, PATH, "version: STSv1\nmode: enforce\nmx: *.pol.cache.test\nmax_age: 3600\n")
    assert sts(t, "pol.cache.test")[1][0].endswith("source=fetch")
    path = cache_file(t)
    with open(path, "w") as f:
        f.write("tern-mta-sts-cache 1 id=one fetched=%d\nversion: STSv1\nmode: bogus\n" % int(time.time()))
    rc, out, err = sts(t, "pol.cache.test")
    assert rc == 0 and out[0].endswith("source=fetch")
    assert "ignoring a malformed file" in err
    # ...and the fetch rewrote it.
    assert "mode: enforce" in open(path).read()
