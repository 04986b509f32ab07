"""
DKIM (src/mailauth/dkim*.c) end to end, against real peers both ways:

- `tern dkim keygen|list|activate|record`: the key files in the data
  directory (mode 0600, owned by the server's user) and the TXT record to
  publish, in character-strings of at most 255 octets;
- signing on submission: a message an authenticated user submits, to a
  local and to a remote recipient (an aiosmtpd peer behind a relay
  route), with DATA or with BDAT, carries a DKIM-Signature that dkimpy
  (python3-dkim) verifies with the key published in a real DNS server
  (NSD, dnsserver.py), and so does OpenDKIM's library (opendkim-testmsg,
  run as root in a private mount namespace whose resolv.conf points at a
  forwarder to that NSD on 127.0.0.1:53: libopendkim knows no other
  port); a From domain without a key and mail received on the MX port
  are not signed; `tern dkim activate` rotates without a restart; a
  message too big for the spool's memory buffer is signed too;
- verification: messages signed by dkimpy (rsa-sha256 and ed25519-sha256,
  every combination of relaxed and simple) pass `tern dkim verify`, which
  asks NSD through [dns] nameservers, and fail once tampered with;
  opendkim-testmsg signs with rsa-sha1 only, which tern refuses as RFC
  8301 requires (permerror, saying why).
"""
import base64
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import IS_ROOT, RUN_USER, SANITIZER_MARKERS, message, need_client
from deliveryutil import FAST, submit, wait_inbox, wait_queue_empty

try:
    import dkim                 # python3-dkim (dkimpy)
    import dns.message          # python3-dnspython, a dependency of python3-dkim
    import dns.query
    import nacl.signing         # python3-nacl, likewise
except ImportError:
    if os.environ.get("TERN_REQUIRE_CLIENTS"):
        raise
    pytest.skip("python3-dkim not installed", allow_module_level=True)

RECORD_RE = re.compile(r'^(?P<sel>[a-z0-9_.-]+)\._domainkey\.(?P<dom>[a-z0-9.-]+)\. IN TXT(?P<strings>( "[^"]{1,255}")+)$')


def record_strings(line):
    """The character-strings of a `tern dkim keygen|record` line (asserting its format)."""
    m = RECORD_RE.match(line.strip())
    assert m, line
    return m.group("sel"), m.group("dom"), re.findall(r'"([^"]*)"', m.group("strings"))


def zone_line(name, text):
    """A zone file TXT line for text, in strings of at most 255 octets."""
    return "%s TXT %s" % (name, " ".join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255)))


def dnsfunc_for(dnsserver):
    """dkimpy's key lookup, asking the test's NSD (not the machine's resolver)."""
    def get_txt(name, timeout=5):
        q = dns.message.make_query(name.decode() if isinstance(name, bytes) else name, "TXT")
        r = dns.query.udp(q, "127.0.0.1", port=dnsserver.port, timeout=timeout)
        for rrset in r.answer:
            for rd in rrset:
                return b"".join(rd.strings)
        return None
    return get_txt


def keyed_tern(make_dns, make_tern, keygen_args=(), start=True, **settings):
    """A tern whose example.test has a key published in NSD: (tern, dns, selector)."""
    d = make_dns({"example.test": ["@ MX 10 mx", "mx A 127.0.0.1"], "other.test": ["@ MX 10 mx.example.test."]})
    t = make_tern(start=False, dns=d.dns_config(), **settings)
    out = t.cli("dkim", "keygen", "example.test", *keygen_args).stdout
    sel, dom, strings = record_strings(out)
    assert dom == "example.test"
    d.set_zone("example.test", ["@ MX 10 mx", "mx A 127.0.0.1", zone_line(sel + "._domainkey", "".join(strings))])
    if start:
        t.start()
    return t, d, sel


def no_sanitizer(r):
    for marker in SANITIZER_MARKERS:
        assert marker not in r.stderr, r.stderr


def tern_verify(t, data):
    """`tern dkim verify` of the message data: its output lines."""
    fd, path = tempfile.mkstemp(dir=t.dir, suffix=".eml")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    r = t.cli("dkim", "verify", path, check=False)
    no_sanitizer(r)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


# ---- keys and the CLI ---------------------------------------------------------


def test_keygen_record_and_files(make_tern):
    t = make_tern(start=False)
    out = t.cli("dkim", "keygen", "example.test").stdout
    sel, dom, strings = record_strings(out)
    assert re.fullmatch(r"tern\d{6}", sel) and dom == "example.test"
    assert len(strings) == 2 and len(strings[0]) == 255     # a 2048-bit key needs two strings
    text = "".join(strings)
    assert text.startswith("v=DKIM1; k=rsa; p=")
    der = base64.b64decode(text.split("p=", 1)[1])
    assert 290 <= len(der) <= 300                            # SubjectPublicKeyInfo of RSA-2048
    keydir = os.path.join(t.data_dir, "dkim", "example.test")
    st = os.stat(os.path.join(keydir, sel + ".key"))
    assert st.st_mode & 0o777 == 0o600
    with open(os.path.join(keydir, "active")) as f:
        assert f.read() == sel + "\n"
    if IS_ROOT:
        import pwd
        uid = pwd.getpwnam(RUN_USER).pw_uid
        assert st.st_uid == uid and os.stat(os.path.join(keydir, "active")).st_uid == uid
        assert os.stat(keydir).st_uid == uid

    out = t.cli("dkim", "keygen", "example.test", "--ed25519", "--selector", "ed1").stdout
    sel2, _, strings = record_strings(out)
    assert sel2 == "ed1" and len(strings) == 1
    assert strings[0].startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(strings[0].split("p=", 1)[1])) == 32
    out = t.cli("dkim", "keygen", "example.test", "--selector", "small", "--bits", "1024").stdout
    assert len(record_strings(out)[2]) == 1

    # The newest key is active; activate goes back; the others stay.
    assert t.cli("dkim", "list").stdout.splitlines() == [
        "example.test ed1 ed25519 -",
        "example.test small rsa-1024 active",
        "example.test %s rsa-2048 -" % sel,
    ]
    t.cli("dkim", "activate", "example.test", sel)
    assert "example.test %s rsa-2048 active" % sel in t.cli("dkim", "list").stdout.splitlines()
    assert record_strings(t.cli("dkim", "record", "example.test").stdout)[0] == sel
    assert record_strings(t.cli("dkim", "record", "example.test", "ed1").stdout)[0] == "ed1"

    # Refused, with exit 1 and one line on stderr.
    for args in (["keygen", "example.test", "--selector", sel],      # exists
                 ["keygen", "nowhere.test"],                         # not a local domain
                 ["keygen", "example.test", "--bits", "512"],
                 ["keygen", "example.test", "--selector", "../x"],
                 ["keygen"],
                 ["activate", "example.test", "missing"],
                 ["activate", "example.test", "../../etc"],
                 ["record", "other.test"]):                          # no key
        r = t.cli("dkim", *args, check=False)
        no_sanitizer(r)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, (args, r.returncode, r.stderr)


# ---- signing on submission -----------------------------------------------------


def signature_of(data):
    m = re.search(rb"^DKIM-Signature:.*?(?=^\S)", data, re.S | re.M)
    return m.group(0) if m else None


@pytest.mark.parametrize("keygen_args,alg", [((), b"rsa-sha256"), (("--ed25519",), b"ed25519-sha256")])
def test_submission_signed_local_and_remote(make_dns, make_tern, peers, peer_port, keygen_args, alg):
    peer = peers("127.0.0.2", peer_port)
    d = dict(FAST)
    d["relay"] = "[127.0.0.2]:%d" % peer_port
    t, ns, sel = keyed_tern(make_dns, make_tern, keygen_args, delivery=d)
    submit(t, ["bob@example.test", "far@remote.example"], subject="signed")
    got = peer.wait_messages(1)[0].data
    rows = wait_inbox(t, "bob@example.test", 1)
    stored = t.cat("bob@example.test", rows[0][0])
    for data in (got, stored):
        sig = signature_of(data)
        assert sig, data[:500]
        assert b"a=" + alg in sig and b"d=example.test;" in sig and b"s=" + sel.encode() + b";" in sig
        assert b"c=relaxed/relaxed" in sig
        for line in sig.split(b"\r\n"):
            assert len(line) <= 78
        # From is signed twice (oversigned), and the signature sits after our Received.
        assert re.search(rb"h=From:\s*From:", sig)
        body = data[data.index(b"Received: "):]
        assert body.index(b"DKIM-Signature:") < body.index(b"From: ")
        assert dkim.verify(data, dnsfunc=dnsfunc_for(ns)), data[:800]
        assert tern_verify(t, data)[0].startswith("dkim=pass header.d=example.test header.s=%s" % sel)
    # Changed in transit: dkimpy and tern both say no.
    bad = got.replace(b"Hello far away.", b"Hello far a way.")
    assert not dkim.verify(bad, dnsfunc=dnsfunc_for(ns))
    assert tern_verify(t, bad)[0].startswith("dkim=fail (body hash did not verify)")
    t.wait_log(r'msg="DKIM signed" id=\S+ domain=example\.test selector=%s' % sel)
    wait_queue_empty(t)


def test_not_signed_without_key_or_on_mx(make_dns, make_tern):
    t, ns, sel = keyed_tern(make_dns, make_tern)
    # carol@other.test: a local domain without a key.
    s = t.submission("carol@other.test")
    s.sendmail("carol@other.test", ["alice@example.test"],
               message("nokey", frm="carol@other.test").encode())
    s.quit()
    # Port 25: even with a From in a signing domain, nothing is signed.
    s = t.smtp("smtp")
    s.sendmail("someone@remote.example", ["alice@example.test"],
               message("mx", frm="bob@example.test").encode())
    s.quit()
    rows = wait_inbox(t, "alice@example.test", 2)
    for uid, _ in rows:
        data = t.cat("alice@example.test", uid)
        assert b"DKIM-Signature" not in data, data[:400]
    assert tern_verify(t, t.cat("alice@example.test", rows[0][0])) == ["dkim=none"]


def test_rotation_and_large_message(make_dns, make_tern):
    t, ns, sel = keyed_tern(make_dns, make_tern)
    # A second key, published, then made active while serve runs.
    out = t.cli("dkim", "keygen", "example.test", "--ed25519", "--selector", "next").stdout
    _, _, strings = record_strings(out)
    first = t.cli("dkim", "record", "example.test", sel).stdout
    ns.set_zone("example.test", ["@ MX 10 mx", zone_line("next._domainkey", "".join(strings)),
                                 zone_line(sel + "._domainkey", "".join(record_strings(first)[2]))])
    submit(t, ["bob@example.test"], subject="rotated")
    t.cli("dkim", "activate", "example.test", sel)
    # Over the 64 KiB the spool keeps in memory: the signature goes into a rewritten file.
    big = ("line of a large message %d\r\n" * 12000) % tuple(range(12000))
    submit(t, ["bob@example.test"], subject="big", body=big)
    rows = wait_inbox(t, "bob@example.test", 2)
    a, b = (t.cat("bob@example.test", uid) for uid, _ in rows)
    assert b"s=next;" in signature_of(a) and b"a=ed25519-sha256" in signature_of(a)
    assert (b"s=%s;" % sel.encode()) in signature_of(b) and len(b) > 300000
    for data in (a, b):
        assert dkim.verify(data, dnsfunc=dnsfunc_for(ns))


# ---- messages signed by dkimpy and OpenDKIM, verified by tern -------------------


def opendkim_key(directory, selector, domain):
    """(private key PEM path, record text) from opendkim-genkey."""
    subprocess.run(["opendkim-genkey", "-D", directory, "-d", domain, "-s", selector, "-b", "2048"],
                   check=True, capture_output=True)
    with open(os.path.join(directory, selector + ".txt")) as f:
        text = "".join(re.findall(r'"([^"]*)"', f.read()))
    return os.path.join(directory, selector + ".private"), text


def test_peer_signatures_verify_in_tern(make_dns, make_tern):
    need_client("opendkim-genkey")
    need_client("opendkim-testmsg")
    work = tempfile.mkdtemp(prefix="tern-dkim-")
    try:
        rsa_key, rsa_text = opendkim_key(work, "od", "example.test")
        ed = nacl.signing.SigningKey.generate()
        ed_seed = base64.b64encode(bytes(ed))
        ed_text = "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(ed.verify_key)).decode()
        ns = make_dns({"example.test": [zone_line("od._domainkey", rsa_text), zone_line("ed._domainkey", ed_text)]})
        t = make_tern(start=False, provisioned=False, dns=ns.dns_config())
        msg = message("from a peer", frm="Joe <joe@example.test>", to="x@example.net",
                      body="Hello  there. \r\n\r\n  indented\r\n\r\n\r\n").encode()
        with open(rsa_key, "rb") as f:
            rsa_pem = f.read()
        cases = []
        for canon in ((b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple"),
                      (b"simple", b"relaxed")):
            cases.append(("dkimpy rsa %s/%s" % canon, dkim.sign(msg, b"od", b"example.test", rsa_pem,
                                                                 canonicalize=canon) + msg, "od"))
            cases.append(("dkimpy ed25519 %s/%s" % canon,
                          dkim.sign(msg, b"ed", b"example.test", ed_seed, canonicalize=canon,
                                    signature_algorithm=b"ed25519-sha256") + msg, "ed"))
        for name, data, sel in cases:
            out = tern_verify(t, data)
            assert out == [out[0]] and out[0].startswith("dkim=pass header.d=example.test header.s=%s" % sel), \
                (name, out)
            bad = data.replace(b"indented", b"Indented")
            assert tern_verify(t, bad)[0].startswith("dkim=fail"), name
        # Both signatures at once: two lines, both pass.
        both = dkim.sign(cases[0][1], b"ed", b"example.test", ed_seed,
                         signature_algorithm=b"ed25519-sha256") + cases[0][1]
        out = tern_verify(t, both)
        assert len(out) == 2 and all(line.startswith("dkim=pass") for line in out), out
        # opendkim-testmsg signs with rsa-sha1, which RFC 8301 retired: refused, and said why.
        od = subprocess.run(["opendkim-testmsg", "-C", "-d", "example.test", "-s", "od", "-k", rsa_key],
                            input=msg, capture_output=True, check=True).stdout
        assert od.startswith(b"DKIM-Signature: v=1; a=rsa-sha1;"), od[:200]
        assert tern_verify(t, od) == [
            "dkim=permerror (rsa-sha1 is not accepted (RFC 8301)) header.d=example.test header.s=od "
            "header.a=rsa-sha1 header.b=" + re.search(rb"\bb=([^;]{8})", od.split(b"bh=", 1)[1]).group(1).decode()]
        # A key that is not published: permerror, no key.
        assert tern_verify(t, cases[0][1].replace(b"s=od;", b"s=gone;"))[0].startswith("dkim=permerror (no key)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- messages tern signs, verified by OpenDKIM's library ------------------------


class DNSForwarder:
    """127.0.0.1:53 (UDP and TCP) passed on to the test's NSD: libopendkim asks
    the resolver of /etc/resolv.conf, which knows no other port."""

    def __init__(self, upstream_port):
        import threading
        self.upstream = upstream_port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind(("127.0.0.1", 53))
        self.tcp.bind(("127.0.0.1", 53))
        self.tcp.listen(8)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.running = True
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._udp, self._tcp)]
        for th in self.threads:
            th.start()

    def _ask(self, query, tcp):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.connect(("127.0.0.1", self.upstream))
            if not tcp:
                u.send(query)
                return u.recv(65535)
            u.sendall(len(query).to_bytes(2, "big") + query)
            data = b""
            while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                chunk = u.recv(65535)
                if not chunk:
                    break
                data += chunk
            return data[2:]

    def _udp(self):
        while self.running:
            try:
                q, addr = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.udp.sendto(self._ask(q, False), addr)
            except OSError:
                pass

    def _tcp(self):
        while self.running:
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                try:
                    c.settimeout(5)
                    data = b""
                    while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                        chunk = c.recv(65535)
                        if not chunk:
                            break
                        data += chunk
                    answer = self._ask(data[2:], True)
                    c.sendall(len(answer).to_bytes(2, "big") + answer)
                except OSError:
                    pass

    def stop(self):
        self.running = False
        for th in self.threads:
            th.join()
        self.udp.close()
        self.tcp.close()


@pytest.mark.parametrize("keygen_args", [(), ("--ed25519",)])
def test_tern_signatures_verify_in_opendkim(make_dns, make_tern, keygen_args):
    need_client("opendkim-testmsg")
    if not IS_ROOT:
        pytest.skip("needs root: port 53 and a private mount of /etc/resolv.conf for libopendkim")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        # A chroot or a container without CAP_SYS_ADMIN: no private mount of resolv.conf for libopendkim.
        pytest.skip("no mount namespace here: %s" % probe.stderr.decode(errors="replace").strip())
    t, ns, sel = keyed_tern(make_dns, make_tern, keygen_args)
    submit(t, ["bob@example.test"], subject="for opendkim", body="Hello  OpenDKIM. \r\n\r\n\r\n")
    rows = wait_inbox(t, "bob@example.test", 1)
    data = t.cat("bob@example.test", rows[0][0])
    assert signature_of(data)
    try:
        fwd = DNSForwarder(ns.port)
    except OSError as e:
        pytest.skip("127.0.0.1:53 not available: %s" % e)
    try:
        resolv = os.path.join(t.dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        script = 'mount --bind "$1" /etc/resolv.conf && exec opendkim-testmsg'
        run = ["unshare", "-m", "sh", "-c", script, "sh", resolv]
        r = subprocess.run(run, input=data, capture_output=True, timeout=60)
        assert (r.returncode, r.stderr) == (0, b""), r.stderr
        bad = data.replace(b"OpenDKIM.", b"OpenDKIM!")
        r = subprocess.run(run, input=bad, capture_output=True, timeout=60)
        assert r.returncode != 0 and b"Bad signature" in r.stderr, r.stderr
    finally:
        fwd.stop()


def test_bdat_submission_signed(make_dns, make_tern):
    """BDAT chunks cut inside the header and inside the body: the signer sees the same octets."""
    t, ns, sel = keyed_tern(make_dns, make_tern)
    msg = message("chunked", frm="Alice <alice@example.test>", to="bob@example.test",
                  body="first line\r\n\r\nsecond  line \r\n").encode()
    r = t.raw("submissions")
    assert r.cmd("EHLO client.example.net")[0] == 250
    token = base64.b64encode(b"\0alice@example.test\0" + ("secret-" + "pw").encode()).decode()
    assert r.cmd("AUTH PLAIN " + token)[0] == 235
    assert r.cmd("MAIL FROM:<alice@example.test>")[0] == 250
    assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
    cuts = [0, 7, msg.index(b"\r\n\r\n") + 1, msg.index(b"second") + 3, len(msg)]
    for i in range(len(cuts) - 1):
        chunk = msg[cuts[i]:cuts[i + 1]]
        last = " LAST" if i == len(cuts) - 2 else ""
        r.send(("BDAT %d%s\r\n" % (len(chunk), last)).encode() + chunk)
        assert r.reply()[0] == 250
    r.cmd("QUIT")
    r.close()
    rows = wait_inbox(t, "bob@example.test", 1)
    data = t.cat("bob@example.test", rows[0][0])
    assert signature_of(data) and dkim.verify(data, dnsfunc=dnsfunc_for(ns)), data[:600]
