"""Outbound delivery to Postfix (postfixpeer.py: a private instance on
loopback) as the remote MX: the SMTP client against the real thing, over
STARTTLS, with 8-bit mail and a refusal that bounces."""
import re

import pytest

import shutil

from conftest import IS_ROOT, free_port, need_client, new_workdir
from deliveryutil import FAST, report_of, status_fields, submit, wait_inbox, wait_queue_empty
from postfixpeer import PostfixPeer

HOST = "127.0.0.5"


@pytest.fixture
def postfix(certs):
    need_client("postfix")
    if not IS_ROOT:
        pytest.skip("a private Postfix instance needs root")
    d = new_workdir()       # where the postfix user may go (pytest's tmp_path is root's only)
    peer = PostfixPeer(d, HOST, free_port(), "remote.example", cert=certs[0], key=certs[1])
    yield peer
    peer.stop()
    shutil.rmtree(d, ignore_errors=True)


def relay_to(make_tern, peer):
    d = dict(FAST, relay="[%s]:%d" % (peer.host, peer.port))
    return make_tern(delivery=d)


def test_delivered_to_postfix_over_starttls(make_tern, postfix):
    t = relay_to(make_tern, postfix)
    body = "Gr\u00fc\u00dfe aus dem Test.\r\n"
    submit(t, ["far@remote.example"], subject="to postfix", body=body, mail_options=["BODY=8BITMIME"])
    got = postfix.wait_messages(1, log=t.log)[0]
    head, _, text = got.partition(b"\n\n")
    assert b"Subject: to postfix" in head
    assert text.replace(b"\r\n", b"\n") == body.encode().replace(b"\r\n", b"\n")     # 8-bit, unchanged
    # Postfix's Received says TLS was used, and that the client was tern
    assert re.search(rb"Received: from mx\.example\.test \(.*\[127\.0\.0\.1\]\)\n\t\(using TLSv1\.[23]", got), got
    assert re.search(r"to=<far@remote\.example> .*tls=yes .*status=sent reply=\"250 2\.0\.0 Ok: (\d+ bytes )?queued as \w+",
                     t.log()), t.log()
    wait_queue_empty(t)


def test_postfix_refusal_bounces_with_its_reply(make_tern, postfix):
    t = relay_to(make_tern, postfix)
    submit(t, ["someone@elsewhere.example"], subject="not theirs")
    rows = wait_inbox(t, "alice@example.test", 1, timeout=30)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert [g["action"] for g in groups] == ["failed"]
    assert groups[0]["status"] == "5.7.1", groups
    assert "Relay access denied" in " ".join(groups[0]["diagnostic-code"].split()), groups     # folded
    wait_queue_empty(t)
