"""
dnsserver.py — a real authoritative DNS server (NSD) for e2e tests.

    from dnsserver import DNSServer      # make_dns, the fixture, comes with conftest.py

    with DNSServer({"example.test": ["@ MX 10 mx1", "mx1 A 127.0.0.2"],
                    "other.test": ["@ MX 0 ."]},
                   signed=["example.test"]) as dns:
        t = make_tern(dns=dns.dns_config())          # [dns] nameservers + trust_anchor
        dns.set_zone("example.test", ["@ MX 10 mx2", "mx2 A 127.0.0.3"])   # rewrite, reload

    def test_x(make_dns, make_tern):                 # stopped at teardown
        dns = make_dns({"example.test": [...]})

DNSServer(zones, signed=(), tamper=None, ipv6=False)
    zones   {zone name: [record lines in zone-file syntax]}, names relative to
            the zone ("@", "mx1", "_25._tcp.mx1") or absolute ("a.b.test.").
            SOA and NS (ns.<zone>, no address) are added; TTL 300.
    signed  zone names to sign with DNSSEC (NSEC, ECDSA P-256): a list means
            a KSK + ZSK each; a dict {zone: "ksk+zsk" | "csk"} chooses, "csk"
            being one key (flags 257) that signs everything.
    tamper  {zone: [(regex, replacement)]} applied to the zone's signed text
            before it is served, e.g. changing an A record's address after
            signing so that its RRSIG no longer matches (bogus).
    ipv6    also listen on [::1] at the same port.
  .port          UDP and TCP port on 127.0.0.1
  .nameservers   "127.0.0.1:PORT", for [dns] nameservers
  .nameservers6  "[::1]:PORT" (with ipv6=True)
  .trust_anchor  path of a file with the DS records of every signed zone's
                 KSK (world-readable: the CLI and serve drop to user tern),
                 or None when nothing is signed
  .trust_anchor_dnskey   the same as DNSKEY records
  .dns_config()  {"nameservers": ..., "trust_anchor": path} for
                 make_tern(dns=...), trust_anchor only when a zone is
                 signed: without it tern validates with the root key, under
                 which every *.test name is insecure (tern's resolver makes
                 "test." insecure when nameservers are given)
  .set_zone(name, records)  replace a zone (re-signed with the same keys when
                 signed), reload NSD and wait until it serves the new serial
  .foreign_trust_anchor(zone)  path of a DS file for a fresh key of zone
                 that signs nothing: validation against it is bogus
  .dir           NSD's directory (world-readable), removed by .stop()
  .log()         what NSD logged, for assertion messages
  .stop()        stop NSD and remove its directory (also on leaving `with`)

NSD is authoritative only: a name outside the given zones gets REFUSED,
which tern's resolver reports as TEMPFAIL.  libunbound answers some names
itself without asking (localhost, 127.in-addr.arpa); the resolver tells it
to pass "test." and the LAN/documentation reverse zones through to the
configured nameservers.  NSD runs as the current user (username "") without
chroot; config, zone files, keys, pid, xfrd state and log are all in one
temporary directory.
"""
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

TTL = 300
NSD = shutil.which("nsd") or "/usr/sbin/nsd"


def _free_port(ipv6=False):
    """A port free for UDP and TCP on 127.0.0.1 (and [::1]), all held while checked."""
    addrs = [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if ipv6 else [])
    for _ in range(50):
        socks = []
        try:
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(t)
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            for family, host in addrs:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    if (family, kind) == (socket.AF_INET, socket.SOCK_STREAM):
                        continue
                    s = socket.socket(family, kind)
                    socks.append(s)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP+TCP port")


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def _keygen(directory, zone, ksk):
    """A fresh ECDSA P-256 key for zone; returns its base name (K<zone>+013+<tag>)."""
    args = ["ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else []) + [zone]
    return _run(args, directory).strip()


def _ds_text(directory, base):
    """The DS record (SHA-256) of key base, one zone-file line."""
    return _run(["ldns-key2ds", "-n", "-2", base + ".key"], directory).strip() + "\n"


# ---- a minimal DNS client, to know when NSD serves what was written ----------

def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def _soa_serial(port, zone, tcp=False, timeout=0.5):
    """The SOA serial NSD serves for zone, or None (no answer, not authoritative)."""
    qid = random.randrange(65536)
    query = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + _encode_name(zone) + struct.pack("!HH", 6, 1)
    try:
        if tcp:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.sendall(struct.pack("!H", len(query)) + query)
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = s.recv(65535)
                    if not chunk:
                        return None
                    data += chunk
                msg = data[2:]
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect(("127.0.0.1", port))      # connected: a closed port fails at once
                s.send(query)
                msg = s.recv(65535)
        rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
        if rid != qid or flags & 0xF != 0 or an == 0:
            return None
        i = _skip_name(msg, 12) + 4
        i = _skip_name(msg, i)
        rtype, _, _, _ = struct.unpack("!HHIH", msg[i:i + 10])
        if rtype != 6:
            return None
        i = _skip_name(msg, i + 10)
        i = _skip_name(msg, i)
        return struct.unpack("!I", msg[i:i + 4])[0]
    except (OSError, IndexError, struct.error):
        return None


class DNSServer:
    """NSD on 127.0.0.1:port serving zones given as Python data (see the module comment)."""

    def __init__(self, zones, signed=(), tamper=None, ipv6=False):
        self.dir = tempfile.mkdtemp(prefix="tern-dns-")
        os.chmod(self.dir, 0o755)  # the trust anchor is read by the unprivileged tern user
        self.zones = {}
        self.serial = int(time.time())
        self.signed = dict(signed) if isinstance(signed, dict) else {z: "ksk+zsk" for z in signed}
        self.tamper = tamper or {}
        self.keys = {}             # zone -> [key base names]
        self.proc = None
        self.trust_anchor = None
        self.trust_anchor_dnskey = None
        self.ipv6 = ipv6
        self._mtime = 0
        try:
            for zone in self.signed:
                self._make_keys(zone)
            for zone, records in zones.items():
                self._write_zone(zone, records)
            self._write_trust_anchor()
            self._start()
        except BaseException:
            self.stop()
            raise

    # ---- the zones ----------------------------------------------------------

    def _make_keys(self, zone):
        mode = self.signed[zone]
        if mode == "csk":
            self.keys[zone] = [_keygen(self.dir, zone, ksk=True)]
        elif mode == "ksk+zsk":
            self.keys[zone] = [_keygen(self.dir, zone, ksk=True), _keygen(self.dir, zone, ksk=False)]
        else:
            raise ValueError("signed: %r is neither 'ksk+zsk' nor 'csk'" % mode)

    def _zone_path(self, zone):
        return os.path.join(self.dir, zone + ".zone")

    def _write_zone(self, zone, records):
        zone = zone.rstrip(".").lower()
        self.serial += 1
        text = "$ORIGIN %s.\n$TTL %d\n" % (zone, TTL)
        text += "@ IN SOA ns.%s. hostmaster.%s. %d 3600 600 86400 %d\n" % (zone, zone, self.serial, TTL)
        text += "@ IN NS ns.%s.\n" % zone
        text += "".join(line + "\n" for line in records)
        path = self._zone_path(zone)
        with open(path + ".src", "w") as f:
            f.write(text)
        if zone in self.signed:
            now = int(time.time())
            _run(["ldns-signzone", "-i", str(now - 3600), "-e", str(now + 30 * 86400),
                  "-f", path, path + ".src"] + self.keys[zone], self.dir)
            with open(path) as f:
                text = f.read()
            for regex, repl in self.tamper.get(zone, ()):
                text, n = re.subn(regex, repl, text, count=1)
                if n == 0:
                    raise ValueError("tamper: %r not found in the signed %s" % (regex, zone))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        # NSD reloads a zone on SIGHUP when its mtime changed: make sure it does.
        st = os.stat(path)
        self._mtime = max(st.st_mtime, self._mtime + 1)
        os.utime(path, (self._mtime, self._mtime))
        self.zones[zone] = self.serial

    def _write_trust_anchor(self):
        if not self.signed:
            return
        ds = os.path.join(self.dir, "trust-anchor.ds")
        dnskey = os.path.join(self.dir, "trust-anchor.dnskey")
        with open(ds, "w") as f, open(dnskey, "w") as g:
            for zone in self.signed:
                f.write(_ds_text(self.dir, self.keys[zone][0]))
                with open(os.path.join(self.dir, self.keys[zone][0] + ".key")) as k:
                    g.write(k.read())
        os.chmod(ds, 0o644)
        os.chmod(dnskey, 0o644)
        self.trust_anchor = ds
        self.trust_anchor_dnskey = dnskey

    def foreign_trust_anchor(self, zone):
        """Path of a DS file for a new key of zone that signs nothing (a wrong trust anchor)."""
        base = _keygen(self.dir, zone, ksk=True)
        path = os.path.join(self.dir, "foreign-%s.ds" % base)
        with open(path, "w") as f:
            f.write(_ds_text(self.dir, base))
        os.chmod(path, 0o644)
        return path

    def set_zone(self, zone, records):
        """Replace zone's records (re-signed if signed), reload NSD, wait until served."""
        zone = zone.rstrip(".").lower()
        if zone not in self.zones:
            raise ValueError("set_zone: %s is not one of the served zones (NSD's config lists them)" % zone)
        self._write_zone(zone, records)
        self.proc.send_signal(signal.SIGHUP)
        self._wait_served(zone)

    # ---- the server ---------------------------------------------------------

    def _write_config(self):
        d = self.dir
        lines = [
            "server:",
            "  ip-address: 127.0.0.1",
        ] + (["  ip-address: ::1"] if self.ipv6 else []) + [
            "  port: %d" % self.port,
            "  do-ip6: %s" % ("yes" if self.ipv6 else "no"),
            "  server-count: 1",
            "  reuseport: no",
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            "  zonesdir: %s" % d,
            "  pidfile: %s/nsd.pid" % d,
            "  zonelistfile: %s/zone.list" % d,
            "  xfrdfile: %s/xfrd.state" % d,
            "  xfrdir: %s" % d,
            "  logfile: %s/nsd.log" % d,
            "  verbosity: 1",
            "  hide-version: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for zone in self.zones:
            lines += ["zone:", "  name: %s" % zone, "  zonefile: %s" % self._zone_path(zone)]
        self.conf = os.path.join(d, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _wait_served(self, zone, timeout=10):
        want = self.zones[zone]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nsd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if _soa_serial(self.port, zone) == want and _soa_serial(self.port, zone, tcp=True) == want:
                return
            time.sleep(0.02)
        raise RuntimeError("nsd does not serve %s serial %d:\n%s" % (zone, want, self.log()))

    def _start(self):
        for attempt in range(3):
            self.port = _free_port(self.ipv6)
            self._write_config()
            with open(os.path.join(self.dir, "nsd.stderr"), "ab") as err:
                self.proc = subprocess.Popen([NSD, "-d", "-c", self.conf], stdout=err, stderr=err,
                                             cwd=self.dir)
            try:
                for zone in self.zones:
                    self._wait_served(zone)
                return
            except RuntimeError:
                text = self.log()
                self._kill()
                # Someone took the port between the check and NSD's bind: another one.
                if "bind" in text.lower() and attempt < 2:
                    continue
                raise

    def log(self):
        out = ""
        for name in ("nsd.log", "nsd.stderr"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    @property
    def nameservers(self):
        return "127.0.0.1:%d" % self.port

    @property
    def nameservers6(self):
        return "[::1]:%d" % self.port

    def dns_config(self):
        c = {"nameservers": self.nameservers}
        if self.trust_anchor:
            c["trust_anchor"] = self.trust_anchor
        return c

    def _kill(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self):
        self._kill()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def make_dns():
    """Factory fixture: make_dns(zones, signed=..., tamper=...) -> DNSServer, stopped at teardown."""
    made = []

    def factory(zones, **kw):
        s = DNSServer(zones, **kw)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.stop()
