"""
postfixpeer.py — a private Postfix instance as the remote MX of delivery
tests: the real thing at the other end of tern's SMTP client.

    peer = PostfixPeer(workdir, "127.0.0.5", port, "remote.example", cert=..., key=...)
    ...
    msgs = peer.wait_messages(1)      # raw bytes of each message in its Maildir

It listens on host:port only, accepts mail for one domain and stores every
message in one Maildir (virtual(8), uid nobody) under workdir; STARTTLS
with the given certificate.  Its own configuration directory, queue and
log: the machine's Postfix (if any) is not touched.  Needs root (Postfix's
master runs as root and drops to the postfix user).
"""
import glob
import os
import pwd
import socket
import subprocess
import time

POSTFIX = "/usr/sbin/postfix"

MASTER_CF = """\
# written by tests/e2e/postfixpeer.py
{addr}     inet  n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
showq     unix  n       -       n       -       -       showq
flush     unix  n       -       n       1000?   0       flush
pickup    unix  n       -       n       60      1       pickup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
# written by tests/e2e/postfixpeer.py: the MX of {domain}, nothing else
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-peer
maillog_file = {log}
maillog_file_prefixes = {log}
myhostname = {hostname}
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks =
smtpd_peername_lookup = no
smtpd_relay_restrictions = reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
smtpd_tls_security_level = {tls_level}
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_received_header = yes
message_size_limit = 10240000
"""


class PostfixPeer:
    def __init__(self, workdir, host, port, domain, cert=None, key=None, hostname=None):
        self.host, self.port, self.domain = host, port, domain
        top = os.path.join(workdir, "postfix-%s-%d" % (host, port))
        self.etc = os.path.join(top, "etc")
        self.queue = os.path.join(top, "queue")
        self.data = os.path.join(top, "data")
        self.mail = os.path.join(top, "mail")
        self.log = os.path.join(top, "postfix.log")
        pf = pwd.getpwnam("postfix")
        nobody = pwd.getpwnam("nobody")
        for d in (top, self.etc, self.queue):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.makedirs(self.data, exist_ok=True)
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.makedirs(self.mail, exist_ok=True)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        open(self.log, "w").close()
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(addr="%s:%d" % (host, port)))
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(queue=self.queue, data=self.data, log=self.log, host=host, domain=domain,
                                   hostname=hostname or "peer-%s.test" % host, mail=self.mail,
                                   uid=nobody.pw_uid, gid=nobody.pw_gid, cert=cert or "", key=key or "",
                                   notls="", tls_level="may" if cert else "none"))
        self._postfix("set-permissions")
        self._postfix("check")
        self._postfix("start")
        self._wait_ready()

    def _postfix(self, *argv):
        r = subprocess.run([POSTFIX, "-c", self.etc] + list(argv), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("postfix %s: %s%s\n%s" % (" ".join(argv), r.stdout, r.stderr, self.log_text()))

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("postfix peer not ready on %s:%d\n%s" % (self.host, self.port, self.log_text()))

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def messages(self):
        """Raw bytes of every delivered message, oldest first."""
        files = glob.glob(os.path.join(self.mail, "box", "new", "*"))
        files.sort(key=os.path.getmtime)
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, n, timeout=30, log=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.messages()
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError("postfix peer got %d of %d messages\n%s\n%s"
                             % (len(self.messages()), n, self.log_text(), log() if log else ""))

    def stop(self):
        subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)
