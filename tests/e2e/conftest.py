"""
End-to-end fixtures: a real `tern serve` on free loopback ports with a
temporary data directory, provisioned through the real CLI, and clients
that talk to it over real sockets (smtplib, swaks, and a raw line client
for the byte-exact cases).

TERN_BIN picks the binary (build/tern by default; make test also runs the
suite against build/asan/tern).  When run as root, serve drops to the
system user "tern", as in production.
"""
import os
import pathlib
import poplib
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TERN = os.environ.get("TERN_BIN", str(ROOT / "build" / "tern"))
IS_ROOT = os.geteuid() == 0
RUN_USER = "tern" if IS_ROOT else None
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")

ROLES = ("smtp", "submission", "submissions")
ROLES += ("pop3", "pop3s")
ROLES += ("imap", "imaps")


def free_ports(n):
    """n distinct free ports: all held open while they are chosen, so the
    kernel cannot hand out the same one twice."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    return free_ports(1)[0]


def make_cert(directory, cn="localhost"):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "30", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    os.chmod(key, 0o644)  # readable by the unprivileged user for SIGHUP reloads
    return cert, key


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A line-level SMTP client for byte-exact tests."""

    def __init__(self, port, tls=False, host="127.0.0.1", timeout=10, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        texts = []
        while True:
            line = self.readline()
            m = re.match(r"^(\d{3})([ -])(.*)$", line)
            assert m, "not an SMTP reply: %r" % line
            texts.append(m.group(3))
            if m.group(2) == " ":
                return int(m.group(1)), texts

    def cmd(self, line):
        self.send(line + "\r\n")
        code, texts = self.reply()
        return code, " ".join(texts)

    def starttls(self):
        code, text = self.cmd("STARTTLS")
        assert code == 220, text
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def closed_by_server(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Tern:
    """One tern instance: config, data directory, CLI and server process."""

    def __init__(self, workdir, certs, **settings):
        self.dir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.conf = os.path.join(workdir, "tern.conf")
        self.logpath = os.path.join(workdir, "tern.log")
        self.cert, self.key = certs
        self.ports = dict(zip(ROLES, free_ports(len(ROLES))))
        self.proc = None
        self.log_offset = 0
        self.settings = settings
        self.write_config()

    def write_config(self, **more):
        s = dict(self.settings)
        s.update(more)
        smtp = {"max_message_size": "1M", "max_recipients": "10", "timeout": "30s",
                "max_connections_per_ip": "20", "max_errors": "20"}
        smtp.update(s.get("smtp", {}))
        auth = {"allow_plaintext": "no", "failure_delay": "50ms", "max_failure_delay": "1s"}
        auth.update(s.get("auth", {}))
        lines = [
            "hostname = " + s.get("hostname", "mx.example.test"),
            "data_dir = " + self.data_dir,
            "threads = 2",
        ]
        if RUN_USER:
            lines.append("user = " + RUN_USER)
        if s.get("postmaster"):
            lines.append("postmaster = " + s["postmaster"])
        lines += ["", "[tls]", "cert = " + self.cert, "key = " + self.key, "", "[listen]"]
        listen = s.get("listen")
        for role in ROLES:
            lines.append("%s = %s" % (role, (listen or {}).get(role, "127.0.0.1:%d" % self.ports[role])))
        lines += ["", "[smtp]"] + ["%s = %s" % kv for kv in smtp.items()]
        lines += ["", "[auth]"] + ["%s = %s" % kv for kv in auth.items()]
        # Sections the tests give whole, e.g. dns={"nameservers": "127.0.0.1:5353"}.
        # Without one, the resolver asks a dead loopback port: a test never
        # queries the machine's real DNS, and mail for other domains stays
        # queued (deferred) instead of bouncing.
        s.setdefault("dns", {"nameservers": "127.0.0.1:9"})
        # SPF, DKIM and DMARC on the MX port ask DNS about every message (and
        # a dead resolver means 451): off unless a test is about them
        # (test_mailauth.py), so that other tests' mail arrives as sent.
        s.setdefault("mailauth", {"spf": "no", "dkim": "no", "dmarc": "no"})
        for section in ("dns", "delivery", "mailauth"):
            if s.get(section):
                lines += ["", "[%s]" % section] + ["%s = %s" % kv for kv in s[section].items()]
        lines += ["", "[log]", "level = " + s.get("log_level", "info"), ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))

    # ---- CLI -------------------------------------------------------------

    def cli(self, *args, input=None, check=True):
        r = subprocess.run([TERN, "-c", self.conf] + list(args), input=input,
                           capture_output=True, text=isinstance(input, str) or input is None,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("tern %s -> %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def add_user(self, address, password="secret-" + "pw"):
        self.cli("user", "add", address, "--password-stdin", input=password + "\n")

    def messages(self, address, mailbox="INBOX"):
        """[(uid, line)] from `tern mail list`."""
        out = self.cli("mail", "list", address, mailbox).stdout
        rows = []
        for line in out.splitlines():
            if line.strip():
                rows.append((int(line.split("\t")[0].split()[0]), line))
        return rows

    def cat(self, address, uid, mailbox="INBOX"):
        r = subprocess.run([TERN, "-c", self.conf, "mail", "cat", address, mailbox, str(uid)],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def bodies(self, address, mailbox="INBOX"):
        return [self.cat(address, uid, mailbox) for uid, _ in self.messages(address, mailbox)]

    # ---- server ----------------------------------------------------------

    def start(self, wait=True, fd_limit=None):
        self.logfile = open(self.logpath, "ab")
        self.log_offset = os.path.getsize(self.logpath)

        def limit():
            if fd_limit:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

        self.proc = subprocess.Popen([TERN, "-c", self.conf, "serve"], stdout=self.logfile,
                                     stderr=subprocess.STDOUT, preexec_fn=limit)
        if wait:
            self.wait_log("msg=ready", timeout=20)
        return self

    def log(self, since=0):
        if not os.path.exists(self.logpath):
            return ""
        with open(self.logpath, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        """Wait for pattern in what the current process logged."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log(self.log_offset)
            if re.search(pattern, text):
                return text
            if self.proc and self.proc.poll() is not None:
                raise AssertionError("tern exited with %s:\n%s" % (self.proc.returncode, text))
            time.sleep(0.02)
        raise AssertionError("no %r in log:\n%s" % (pattern, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("tern did not stop in %ss:\n%s" % (timeout, self.log()))
        finally:
            self.proc = None
            self.logfile.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.logfile.close()

    def check_clean_log(self):
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, "sanitizer report in log:\n" + text

    # ---- clients ---------------------------------------------------------

    def raw(self, role="smtp", tls=None, greet=True, source=None):
        r = Raw(self.ports[role], tls=(role == "submissions") if tls is None else tls, source=source)
        if greet:
            code, _ = r.reply()
            assert code == 220
        return r

    def smtp(self, role="smtp", ehlo=True):
        if role == "submissions":
            s = smtplib.SMTP_SSL("127.0.0.1", self.ports[role], context=client_tls_context(), timeout=15)
        else:
            s = smtplib.SMTP("127.0.0.1", self.ports[role], timeout=15)
        if ehlo:
            s.ehlo("client.example.net")
        return s

    def submission(self, user="alice@example.test", password="secret-" + "pw", role="submission"):
        s = self.smtp(role)
        if role == "submission":
            s.starttls(context=client_tls_context())
            s.ehlo("client.example.net")
        s.login(user, password)
        return s

    def pop3(self, user="alice@example.test", password="secret-" + "pw", stls=True):
        """poplib on the pop3 port, after STLS unless stls=False; logged in unless user is None."""
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=15)
        if stls:
            p.stls(context=client_tls_context())
        if user is not None:
            p.user(user)
            p.pass_(password)
        return p

    def pop3s(self, user="alice@example.test", password="secret-" + "pw"):
        """poplib on the pop3s port (implicit TLS); logged in unless user is None."""
        p = poplib.POP3_SSL("127.0.0.1", self.ports["pop3s"], context=client_tls_context(), timeout=15)
        if user is not None:
            p.user(user)
            p.pass_(password)
        return p


def new_workdir():
    d = tempfile.mkdtemp(prefix="tern-e2e-")
    os.chmod(d, 0o755)  # the unprivileged server user must reach its data directory
    return d


@pytest.fixture(scope="session")
def certs():
    d = new_workdir()
    pair = make_cert(d)
    yield pair
    shutil.rmtree(d, ignore_errors=True)


def provision(t):
    t.cli("domain", "add", "example.test")
    t.cli("domain", "add", "other.test")
    t.add_user("alice@example.test")
    t.add_user("bob@example.test")
    t.add_user("carol@other.test")


@pytest.fixture
def make_tern(certs):
    """Factory for instances with their own settings; stopped and checked at teardown."""
    made = []

    def factory(start=True, provisioned=True, own_cert=False, **settings):
        d = new_workdir()
        t = Tern(d, make_cert(d) if own_cert else certs, **settings)
        if provisioned:
            provision(t)
        if start:
            t.start()
        made.append(t)
        return t

    yield factory
    for t in made:
        rc = t.stop()
        t.check_clean_log()
        assert rc in (0, None), "tern exited with %s:\n%s" % (rc, t.log())
        shutil.rmtree(t.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tern(certs):
    """A shared, provisioned instance for tests that do not change settings."""
    t = Tern(new_workdir(), certs, postmaster="alice@example.test")
    provision(t)
    t.start()
    yield t
    rc = t.stop()
    t.check_clean_log()
    assert rc == 0, "tern exited with %s:\n%s" % (rc, t.log())
    shutil.rmtree(t.dir, ignore_errors=True)


def message(subject="hello", body="Hello there.\r\n", frm="sender@remote.example",
            to="alice@example.test", extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@remote.example>\r\n"
            "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n%s\r\n%s"
            % (frm, to, subject, re.sub(r"\W", "", subject) + str(time.time_ns()), extra, body))


def need_client(binary):
    """The path of a real client program; skipped when it is missing unless
    TERN_REQUIRE_CLIENTS is set (CI sets it, so a missing client fails)."""
    path = shutil.which(binary)
    if not path:
        if os.environ.get("TERN_REQUIRE_CLIENTS"):
            pytest.fail("%s is required (TERN_REQUIRE_CLIENTS is set) but not installed" % binary)
        pytest.skip("%s not installed" % binary)
    return path


# fetchmail's MDA for the client tests: each message into its own file.
SAVE_MDA = """
import os, sys, time
data = sys.stdin.buffer.read()
path = os.path.join(sys.argv[1], "%d-%d" % (time.time_ns(), os.getpid()))
with open(path, "wb") as f:
    f.write(data)
"""


# Fixtures that live with their helpers, for every test module: NSD
# (dnsserver.py) and the remote SMTP peers of the delivery tests.
from dnsserver import make_dns  # noqa: E402,F401
from deliveryutil import peer_port, peers  # noqa: E402,F401
