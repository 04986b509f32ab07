"""Helpers of the delivery tests (test_delivery*.py): the fixture of remote
SMTP peers, submitting, and reading the queue and the notices that come
back to the sender.
"""

import email
import email.policy
import os
import shutil
import tempfile
import time

import pytest

from conftest import free_port, message
from httpsserver import LocalCA
from smtppeer import SmtpPeer

FAST = {"retry_min": "1s", "retry_max": "2s", "connect_timeout": "3s", "command_timeout": "10s"}


@pytest.fixture
def peer_port():
    return free_port()


@pytest.fixture
def peers():
    made = []

    def factory(*args, **kwargs):
        p = SmtpPeer(*args, **kwargs)
        made.append(p)
        return p
    yield factory
    for p in made:
        p.stop()


@pytest.fixture(scope="module")
def ca():
    """Two CAs, made once per test module: the one tern is told to trust (tls_ca_file) and another."""
    d = tempfile.mkdtemp(prefix="tern-ca-")
    os.chmod(d, 0o755)
    yield LocalCA(os.path.join(d, "ca")), LocalCA(os.path.join(d, "other"), name="another CA")
    shutil.rmtree(d, ignore_errors=True)


def receiving_tern(make_tern, ca, name, listen):
    """A second tern as the remote side: SMTP on listen ("ip:port"), hostname and certificate (one
    of ca, a httpsserver.LocalCA) for name; it takes mail for far@remote.test."""
    b = make_tern(start=False, provisioned=False, hostname=name, listen={"smtp": listen})
    cert, key = ca.issue(name)
    b.cert, b.key = os.path.join(b.dir, "remote.pem"), os.path.join(b.dir, "remote.key")
    shutil.copy(cert, b.cert)
    shutil.copy(key, b.key)
    os.chmod(b.cert, 0o644)
    os.chmod(b.key, 0o644)
    b.write_config()
    b.cli("domain", "add", "remote.test")
    b.add_user("far@remote.test")
    b.start()
    return b


def submit(t, rcpts, subject="out", frm="alice@example.test", body="Hello far away.\r\n",
           mail_options=(), rcpt_options=()):
    s = t.submission()
    msg = message(subject, body=body, frm=frm, to=", ".join(rcpts))
    s.sendmail(frm, rcpts, msg.encode(), mail_options=list(mail_options), rcpt_options=list(rcpt_options))
    s.quit()
    return msg


def queue_rows(t):
    return [line.split("\t") for line in t.cli("queue", "list").stdout.splitlines() if line.strip()]


def wait_deferred(t, timeout=30):
    """The queue's rows once each has been tried (the log line of an attempt
    comes before the scheduler records its outcome)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = queue_rows(t)
        if rows and all(int(r[5]) >= 1 for r in rows):
            return rows
        time.sleep(0.1)
    raise AssertionError("queue rows not tried: %r\n%s" % (queue_rows(t), t.log()))


def wait_queue_empty(t, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not queue_rows(t):
            return
        time.sleep(0.1)
    raise AssertionError("queue not empty: %r\n%s" % (queue_rows(t), t.log()))


def wait_inbox(t, address, n, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = t.messages(address)
        if len(rows) >= n:
            return rows
        time.sleep(0.1)
    raise AssertionError("%s has %d messages, wanted %d\n%s" % (address, len(t.messages(address)), n, t.log()))


def report_of(t, address, uid):
    raw = t.cat(address, uid)
    return email.message_from_bytes(raw, policy=email.policy.compat32), raw


def status_fields(report):
    """The per-recipient groups of the message/delivery-status part, as dicts."""
    parts = report.get_payload()
    ds = parts[1]
    assert ds.get_content_type() == "message/delivery-status"
    groups = []
    for block in ds.get_payload():
        groups.append({k.lower(): v for k, v in block.items()})
    return groups[0], groups[1:]
