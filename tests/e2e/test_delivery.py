"""Outbound delivery through a relay route: tern's queue and SMTP client
against real SMTP servers (aiosmtpd, tests/e2e/smtppeer.py) on loopback.

`relay = [127.0.0.N]:port` sends every remote message to that host without
an MX lookup; the MX-route tests (test_delivery_mx.py) add a DNS server.
"""

import datetime as dt
import os
import re
import sqlite3
import time

from conftest import free_port, message
from deliveryutil import FAST, queue_rows, report_of, status_fields, submit, wait_deferred, wait_inbox, \
    wait_queue_empty
from smtppeer import client_tls_context


def relay_tern(make_tern, host, port, **delivery):
    d = dict(FAST)
    d["relay"] = "[%s]:%d" % (host, port)
    d.update(delivery)
    return make_tern(delivery=d)


def test_relay_delivers_exact_message(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    msg = submit(t, ["far@remote.example"])
    got = peer.wait_messages(1)[0]
    assert got.mail_from == "alice@example.test"
    assert got.rcpt_tos == ["far@remote.example"]
    # What the peer got is what was submitted, under tern's Received line,
    # without the Return-Path tern keeps for local copies.
    data = got.data.decode()
    assert not data.startswith("Return-Path:")
    assert data.startswith("Received: from ")
    assert data.endswith(msg) and data.count(msg) == 1
    wait_queue_empty(t)
    t.wait_log(r"to=<far@remote\.example> relay=127\.0\.0\.2\[127\.0\.0\.2\]:%d .*status=sent" % peer_port)


def test_rcpt_5xx_bounces_that_rcpt_only(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    peer.rcpt_reply["nobody@remote.example"] = "550 5.1.1 <nobody@remote.example>: no such user here"
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example", "nobody@remote.example"], subject="mixed")
    got = peer.wait_messages(1)[0]
    assert got.rcpt_tos == ["far@remote.example"]
    rows = wait_inbox(t, "alice@example.test", 1)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    assert report["From"].startswith("Mail Delivery System <MAILER-DAEMON@mx.example.test>")
    assert report["Auto-Submitted"] == "auto-replied"
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    per_msg, groups = status_fields(report)
    assert per_msg["reporting-mta"] == "dns; mx.example.test"
    assert len(groups) == 1
    g = groups[0]
    assert g["final-recipient"] == "rfc822; nobody@remote.example" or \
        g["final-recipient"] == "rfc822;nobody@remote.example"
    assert g["action"] == "failed"
    assert g["status"] == "5.1.1"
    assert "no such user here" in g["diagnostic-code"]
    assert g["diagnostic-code"].replace(" ", "").startswith("smtp;550")
    # The original comes back (headers at least), and the bounce itself is from <>.
    assert b"Subject: mixed" in raw
    assert raw.startswith(b"Return-Path: <>\r\n")
    wait_queue_empty(t)


def test_temporary_failure_retried_then_sent(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    peer.rcpt_reply["far@remote.example"] = "451 4.3.0 try again later please"
    t = relay_tern(make_tern, "127.0.0.2", peer_port, retry_min="2s", retry_max="4s")
    submit(t, ["far@remote.example"])
    t.wait_log(r"to=<far@remote\.example> .*status=deferred .*try again later please")
    rows = wait_deferred(t)
    assert len(rows) == 1
    assert int(rows[0][5]) >= 1                     # attempts
    assert "try again later please" in rows[0][6]   # last error
    peer.rcpt_reply.clear()
    got = peer.wait_messages(1, timeout=20)[0]
    assert got.rcpt_tos == ["far@remote.example"]
    wait_queue_empty(t)
    # No notice for a delivery that only took a retry.
    assert t.messages("alice@example.test") == []


def test_retries_back_off_exponentially(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    peer.rcpt_reply["far@remote.example"] = "451 4.3.0 busy"
    t = relay_tern(make_tern, "127.0.0.2", peer_port, retry_min="2s", retry_max="4s")
    submit(t, ["far@remote.example"])
    stamps = []
    deadline = time.time() + 30
    while len(stamps) < 4 and time.time() < deadline:
        stamps = [dt.datetime.strptime(m, "%Y-%m-%dT%H:%M:%S.%f").timestamp() for m in
                  re.findall(r"ts=(\S+)Z [^\n]*to=<far@remote\.example> [^\n]*status=deferred", t.log())]
        time.sleep(0.2)
    assert len(stamps) >= 4, t.log()
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # 2 s, then 4 s, then capped at 4 s (whole seconds, so up to one more).
    assert 1.5 <= gaps[0] <= 3.2 and 3.5 <= gaps[1] <= 5.2 and 3.5 <= gaps[2] <= 5.2, gaps


def test_unreachable_relay_defers_with_reason(make_tern, peer_port):
    # Nothing listens there: the connection is refused.
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"])
    t.wait_log(r"to=<far@remote\.example> .*status=deferred")
    rows = wait_deferred(t)
    assert len(rows) == 1 and rows[0][3] == "far@remote.example"
    assert re.search(r"refused", rows[0][6], re.I), rows[0][6]


def test_expired_entry_bounces(make_tern, peer_port):
    t = relay_tern(make_tern, "127.0.0.2", peer_port, queue_lifetime="3s")
    submit(t, ["far@remote.example"], subject="too late")
    rows = wait_inbox(t, "alice@example.test", 1, timeout=30)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert [g["action"] for g in groups] == ["failed"]
    assert groups[0]["status"].startswith("4.")    # the last temporary error's code
    wait_queue_empty(t)


def test_delay_warning_once(make_tern, peer_port):
    t = relay_tern(make_tern, "127.0.0.2", peer_port, delay_warning="2s")
    submit(t, ["far@remote.example"], subject="slow")
    rows = wait_inbox(t, "alice@example.test", 1, timeout=30)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    assert report["Subject"].startswith("Delayed Mail")
    _, groups = status_fields(report)
    assert groups[0]["action"] == "delayed"
    assert "will-retry-until" in groups[0]
    # Only the header of the original with a delay warning.
    assert report.get_payload()[2].get_content_type() == "text/rfc822-headers"
    time.sleep(5)
    assert len(t.messages("alice@example.test")) == 1      # once, not at every retry
    assert len(queue_rows(t)) == 1                         # still queued


def test_notify_never_and_null_sender_get_no_bounce(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    peer.rcpt_reply["nobody@remote.example"] = "550 5.1.1 no such user"
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["nobody@remote.example"], rcpt_options=["NOTIFY=NEVER"])
    t.wait_log(r"to=<nobody@remote\.example> .*status=bounced")
    wait_queue_empty(t)
    time.sleep(1)
    assert t.messages("alice@example.test") == []


def test_notify_success_to_a_peer_without_dsn_gets_relayed_notice(make_tern, peers, peer_port):
    # aiosmtpd does not offer DSN: tern reports the hand-over itself (RFC 3461 §5.2.2.1).
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"], subject="tell me", rcpt_options=["NOTIFY=SUCCESS,FAILURE"],
           mail_options=["RET=HDRS", "ENVID=env-42"])
    peer.wait_messages(1)
    rows = wait_inbox(t, "alice@example.test", 1)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    assert report["Subject"] == "Successful Mail Delivery Report"
    per_msg, groups = status_fields(report)
    assert per_msg["original-envelope-id"] == "env-42"
    assert groups[0]["action"] == "relayed"
    assert groups[0]["status"].startswith("2.")
    assert report.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert b"Hello far away." not in raw


def test_hold_and_release(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    peer.rcpt_reply["far@remote.example"] = "451 4.3.0 not yet"
    t = relay_tern(make_tern, "127.0.0.2", peer_port, retry_min="1s", retry_max="1s")
    submit(t, ["far@remote.example"])
    t.wait_log(r"status=deferred")
    qid = queue_rows(t)[0][0]
    t.cli("queue", "hold", qid)
    assert queue_rows(t)[0][-1] == "held"
    peer.rcpt_reply.clear()
    time.sleep(5)
    assert peer.messages == []                     # held: not tried
    t.cli("queue", "release", qid)
    assert queue_rows(t)[0][-1] == "queued"
    peer.wait_messages(1, timeout=15)
    wait_queue_empty(t)
    assert t.cli("queue", "hold", qid, check=False).returncode == 1


def submit_three(t):
    """Three messages, one recipient each, in one submission session."""
    s = t.submission()
    for i in range(3):
        s.sendmail("alice@example.test", ["far%d@remote.example" % i],
                   message("m%d" % i, frm="alice@example.test"))
    s.quit()


def test_one_connection_for_several_messages(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port, max_per_destination="1")
    submit_three(t)
    got = peer.wait_messages(3)
    assert sorted(r for m in got for r in m.rcpt_tos) == ["far0@remote.example", "far1@remote.example",
                                                           "far2@remote.example"]
    # Delivered back to back, the later ones reuse the connection.
    assert len({m.session for m in got}) < 3, got


def test_destination_rate_delay(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port, destination_rate_delay="1500ms")
    submit_three(t)
    got = peer.wait_messages(3, timeout=30)
    times = sorted(m.at for m in got)
    # One delivery per interval (the first at once).
    assert times[1] - times[0] >= 1.3 and times[2] - times[1] >= 1.3, times
    wait_queue_empty(t)


def test_many_rcpts_one_transaction(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    rcpts = ["r%d@remote.example" % i for i in range(8)]
    submit(t, rcpts)
    got = peer.wait_messages(1)
    time.sleep(1)
    assert len(peer.messages) == 1
    assert sorted(got[0].rcpt_tos) == sorted(rcpts)


def test_starttls_used_when_offered(make_tern, peers, peer_port, certs):
    peer = peers("127.0.0.2", peer_port, tls_context=client_tls_context(*certs))
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"])
    got = peer.wait_messages(1)[0]
    assert got.tls
    t.wait_log(r"to=<far@remote\.example> .*tls=yes .*status=sent")


def test_relay_auth(make_tern, peers, peer_port, certs):
    peer = peers("127.0.0.2", peer_port, tls_context=client_tls_context(*certs), auth=("relayuser", "relay-pw"))
    t = make_tern(start=False)
    # Where the server's user can read it: the instance's own directory.
    pw = os.path.join(t.dir, "relay.pw")
    with open(pw, "w") as f:
        f.write("relay-pw\n")
    os.chmod(pw, 0o644)
    d = dict(FAST, relay="[127.0.0.2]:%d" % peer_port, relay_username="relayuser", relay_password_file=pw)
    t.write_config(delivery=d)
    t.start()
    submit(t, ["far@remote.example"])
    got = peer.wait_messages(1)[0]
    assert got.tls
    assert peer.auth_seen and peer.auth_seen[-1][1] and peer.auth_seen[-1][2]
    assert "relay-pw" not in t.log()


def test_smtputf8_needed_but_not_offered_bounces(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port, smtputf8=False)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    s = t.submission()
    s.sendmail("alice@example.test", ["jürgen@remote.example"],
               message("utf8", frm="alice@example.test").encode(), mail_options=["SMTPUTF8"])
    s.quit()
    rows = wait_inbox(t, "alice@example.test", 1)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert groups[0]["status"] == "5.6.7"
    assert peer.messages == []


def test_dsn_parameters_passed_on(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"], mail_options=["BODY=8BITMIME"], body="Gr\u00fc\u00dfe\r\n")
    got = peer.wait_messages(1)[0]
    assert "BODY=8BITMIME" in got.mail_options
    assert "Gr\u00fc\u00dfe".encode() in got.data


def test_queue_survives_restart(make_tern, peers, peer_port):
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"], subject="persist")
    t.wait_log(r"status=deferred")
    t.stop()
    peer = peers("127.0.0.2", peer_port)
    t.start()
    t.cli("queue", "retry", "all")
    got = peer.wait_messages(1, timeout=20)[0]
    assert b"Subject: persist" in got.data
    wait_queue_empty(t)


def test_dsn_parameters_reach_a_dsn_capable_relay(make_tern, certs):
    """tern to tern: the relay (a second tern, AUTH over STARTTLS) queues
    the mail with the sender's NOTIFY, ORCPT, RET and ENVID intact."""
    port = free_port()
    b = make_tern(start=False, hostname="relay.other.test", listen={"submission": "127.0.0.33:%d" % port})
    b.start()
    a = make_tern(start=False)
    pw = os.path.join(a.dir, "relay.pw")
    with open(pw, "w") as f:
        f.write("secret-pw\n")
    os.chmod(pw, 0o644)
    a.write_config(delivery=dict(FAST, relay="[127.0.0.33]:%d" % port, relay_username="alice@example.test",
                                 relay_password_file=pw))
    a.start()
    s = a.submission()
    s.sendmail("alice@example.test", ["far@remote.example"], message("dsn", frm="alice@example.test").encode(),
               mail_options=["RET=HDRS", "ENVID=env+2B7"],
               rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;Far@Remote.Example"])
    s.quit()
    deadline = time.time() + 20
    rows = []
    while time.time() < deadline and not rows:
        rows = queue_rows(b)
        time.sleep(0.1)
    assert len(rows) == 1, a.log()
    row = rows[0]
    assert row[2] == "alice@example.test" and row[3] == "far@remote.example"
    params = row[7].split()
    assert "notify=FAILURE,DELAY" in params and "ret=HDRS" in params, params
    assert "envid=env+7" in params or "envid=env+2B7" in params, params
    assert "orcpt=rfc822;Far@Remote.Example" in params, params
    wait_queue_empty(a)
    a.wait_log(r"to=<far@remote\.example> relay=127\.0\.0\.33\[127\.0\.0\.33\]:%d .*tls=yes .*status=sent" % port)


def test_row_with_bad_blob_id_backs_off_and_bounces(make_tern, peer_port):
    """A queue row whose message file cannot even be named (a corrupt
    blob id) is deferred like any failure, not retried at every scan, and
    bounces when it expires: it never stays in the queue for good."""
    t = relay_tern(make_tern, "127.0.0.2", peer_port, queue_lifetime="6s")
    submit(t, ["far@remote.example"], subject="lost file")
    wait_deferred(t)
    t.stop()
    db = sqlite3.connect(os.path.join(t.data_dir, "index.db"))
    db.execute("UPDATE queue SET blob_id = '../not-a-blob', next_attempt = 0")
    db.commit()
    db.close()
    t.start()
    t.wait_log(r"bad blob id in the queue")
    rows = wait_inbox(t, "alice@example.test", 1, timeout=30)
    report, raw = report_of(t, "alice@example.test", rows[0][0])
    _, groups = status_fields(report)
    assert [g["action"] for g in groups] == ["failed"], groups
    assert "message file unknown" in groups[0]["diagnostic-code"], groups
    assert b"could not be read back" in raw
    wait_queue_empty(t)
    # backed off between attempts: 1 s doubling to 2 s over the 6 s, not one every scan
    assert len(re.findall(r"bad blob id in the queue", t.log())) <= 6, t.log()


def test_end_of_data_reply_gets_the_long_timeout(make_tern, peers, peer_port):
    """RFC 5321 §4.5.3.2.6: the reply to the end of data may take 10
    minutes (data_done_timeout), longer than any other (command_timeout):
    a server slow to accept a message it has in full is waited for, and
    timing out there, when it comes, says the message may go twice."""
    peer = peers("127.0.0.2", peer_port)
    peer.data_delay = 2.5
    t = relay_tern(make_tern, "127.0.0.2", peer_port, command_timeout="1s", data_done_timeout="6s")
    submit(t, ["far@remote.example"], subject="slow accept")
    t.wait_log(r"to=<far@remote\.example> .*status=sent", timeout=20)
    assert len(peer.messages) == 1

    t2 = relay_tern(make_tern, "127.0.0.2", peer_port, command_timeout="1s", data_done_timeout="1s")
    submit(t2, ["far@remote.example"], subject="too slow")
    t2.wait_log(r"to=<far@remote\.example> .*status=deferred", timeout=20)
    assert re.search(r"message may be sent more than once", t2.log())


def test_queue_show(make_tern, peer_port):
    """`tern queue show ID`: the entry, field by field, then the message as
    it will be sent (our Return-Path left off, our Received on)."""
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"], subject="shown", rcpt_options=["NOTIFY=FAILURE"])
    rows = wait_deferred(t)
    out = t.cli("queue", "show", rows[0][0]).stdout
    head, msg = out.split("\n\n", 1)
    fields = dict(line.split(": ", 1) for line in head.splitlines())
    assert fields["ID"] == rows[0][0]
    assert fields["Sender"] == "alice@example.test" and fields["Recipient"] == "far@remote.example"
    assert fields["State"] == "queued" and fields["Attempts"] == "1"
    assert "notify=FAILURE" in fields["Parameters"]
    assert re.search(r"refused", fields["Last-Error"], re.I)
    assert msg.startswith("Received: from ") and "Subject: shown" in msg and "Return-Path" not in msg
    assert len(msg.encode()) + msg.count("\n") == int(fields["Size"])     # text mode made CRLF into LF
    r = t.cli("queue", "show", "999999", check=False)
    assert r.returncode == 1 and "no queue entry" in r.stderr
    r = t.cli("queue", "show", "x1", check=False)
    assert r.returncode == 1
