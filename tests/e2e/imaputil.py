"""
IMAP helpers for the end-to-end tests: a raw tagged-command client for the
byte-exact and hostile cases (imaplib hides too much of the wire), and
small parsers for the untagged responses the tests check.
"""
import re
import time

from conftest import Raw, client_tls_context as tls_context


class RawImap(Raw):
    """Speaks IMAP line by line; literals in responses are read whole."""

    def __init__(self, port, tls=False, timeout=10, greet=True):
        super().__init__(port, tls=tls, timeout=timeout)
        self.n = 0
        self.greeting = self.line() if greet else None

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server; buffered: %r" % self.buf)
        self.buf += chunk

    def line(self):
        """One response line; a trailing literal {n} is read and appended."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = re.search(rb"~?\{(\d+)\}$", line)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            line += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            line += self.line()
        return line

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def cmd(self, text, tag=None):
        """Send a command; return (untagged lines, tagged line)."""
        tag = tag or self.tag()
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        lines = []
        tb = tag.encode() + b" "
        while True:
            l = self.line()
            if l.startswith(tb):
                return lines, l
            lines.append(l)

    def login(self, user="alice@example.test", password="secret-pw"):
        _, t = self.cmd('LOGIN "%s" "%s"' % (user, password))
        assert b" OK " in t, t
        return t


def wait_for(pred, timeout=5.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
