"""
Real IMAP clients against a real `tern serve`: mbsync (isync) two-way
sync, curl listing and fetching, fetchmail downloading.  They are skipped
only when the client is missing and TERN_REQUIRE_CLIENTS is unset (CI
sets it, so a missing client fails there).
"""
import itertools
import re
import sys
import os
import shutil
import subprocess
import time

import pytest

from conftest import SAVE_MDA, message, need_client as need
from imaputil import RawImap

PW = "secret-" + "pw"
_counter = itertools.count(1)


@pytest.fixture
def user(tern):
    addr = "client%d@example.test" % next(_counter)
    tern.add_user(addr)
    return addr


def deliver(tern, rcpt, subject, body="Body text.\r\n"):
    with tern.smtp() as s:
        s.sendmail("sender@remote.example", [rcpt], message(subject=subject, body=body))


def flags_of(tern, addr, mailbox="INBOX"):
    out = {}
    for uid, line in tern.messages(addr, mailbox):
        out[uid] = line.split("\t")[1]
    return out


def maildir_files(d):
    files = []
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            files += [os.path.join(p, f) for f in sorted(os.listdir(p))]
    return files


def test_mbsync_two_way_flag_sync(tern, user, tmp_path):
    mbsync = need("mbsync")
    deliver(tern, user, "first")
    deliver(tern, user, "second")
    local = tmp_path / "mail"
    local.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(
        "IMAPAccount tern\n"
        "Host localhost\nPort %d\nUser %s\nPass %s\nSSLType IMAPS\nCertificateFile %s\n\n"
        "IMAPStore remote\nAccount tern\n\n"
        "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
        "Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX Archive\nCreate Both\nSync All\n"
        "Expunge Both\nSyncState *\n" % (tern.ports["imaps"], user, PW, tern.cert, local, local))

    def sync():
        r = subprocess.run([mbsync, "-c", str(conf), "-a"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr

    sync()
    files = maildir_files(str(local / "INBOX"))
    assert len(files) == 2
    # mbsync stores LF line ends and adds its X-TUID header; otherwise byte-exact.
    contents = sorted(re.sub(rb"X-TUID: \S+\n", b"", open(f, "rb").read()) for f in files)
    assert contents == sorted(m.replace(b"\r\n", b"\n") for m in (tern.cat(user, 1), tern.cat(user, 2)))

    # A flag set locally reaches the server.
    target = [f for f in files if b"Subject: first" in open(f, "rb").read()][0]
    base = os.path.basename(target).split(":2,")[0]
    flagged = os.path.join(str(local / "INBOX"), "cur", base + ":2,FS")
    os.rename(target, flagged)
    sync()
    assert flags_of(tern, user)[1] == "\\Seen \\Flagged"

    # A flag set on the server reaches the local copy.
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(user, PW)
    r.cmd("SELECT INBOX")
    _, t = r.cmd("UID STORE 2 +FLAGS (\\Answered)")
    assert b" OK " in t
    r.close()
    sync()
    second = [f for f in maildir_files(str(local / "INBOX")) if b"Subject: second" in open(f, "rb").read()][0]
    assert second.endswith(":2,R") or ":2,R" in second, second

    # A message deleted locally is expunged on the server.
    os.unlink(flagged)
    sync()
    assert list(flags_of(tern, user)) == [2]


def test_curl_lists_and_fetches(tern, user):
    curl = need("curl")
    deliver(tern, user, "via curl", body="curl body\r\n")
    base = "imaps://127.0.0.1:%d/" % tern.ports["imaps"]
    r = subprocess.run([curl, "-s", "-k", "--user", "%s:%s" % (user, PW), base], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(rb'\* LIST \([^)]*\) "/" "?INBOX"?\r\n', r.stdout) and b"Archive" in r.stdout, r.stdout
    r = subprocess.run([curl, "-s", "-k", "--user", "%s:%s" % (user, PW), base + "INBOX;UID=1"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == tern.cat(user, 1)
    # STARTTLS on the plain port, required by curl --ssl-reqd.
    r = subprocess.run([curl, "-s", "-k", "--ssl-reqd", "--user", "%s:%s" % (user, PW),
                        "imap://127.0.0.1:%d/INBOX;UID=1" % tern.ports["imap"]], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == tern.cat(user, 1)


@pytest.mark.parametrize("keep", [True, False])
def test_fetchmail_over_imap(tern, user, tmp_path, keep):
    fetchmail = need("fetchmail")
    deliver(tern, user, "fm one", body="fetchmail one\r\n")
    deliver(tern, user, "fm two", body="fetchmail two\r\n")
    expected = [tern.cat(user, 1), tern.cat(user, 2)]
    out = tmp_path / "out"
    out.mkdir()
    save = tmp_path / "save.py"
    save.write_text(SAVE_MDA)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        "set no syslog\nset invisible\n"
        "poll 127.0.0.1 service %d protocol IMAP auth password\n"
        "  user \"%s\" there with password \"%s\" is \"root\" here\n"
        "  ssl no sslcertck\n  %s\n  no rewrite no stripcr\n"
        "  mda \"%s %s %s\"\n"
        % (tern.ports["imaps"], user, PW, "keep" if keep else "no keep", sys.executable, save, out))
    rc.chmod(0o600)
    args = [fetchmail, "-f", str(rc), "--idfile", str(tmp_path / "ids"), "--pidfile", str(tmp_path / "pid"),
            "--nodetach", "-v"]
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(open(os.path.join(out, f), "rb").read() for f in os.listdir(out))
    # "invisible" keeps fetchmail from adding a Received line: byte-exact.
    assert got == sorted(expected), r.stdout + r.stderr
    remaining = list(flags_of(tern, user))
    assert remaining == ([1, 2] if keep else [])
