"""
A storm of random IMAP commands — valid words in random order, literals
announced and not sent, IDLE and DONE out of place, NULs and 8-bit octets,
oversized arguments — over many short sessions on one mailbox.  The server
must keep answering, and (under the ASan build) the log must stay free of
sanitizer reports, which the fixture checks at teardown.  The seed is fixed
so a failure can be replayed (TERN_STORM_SEED, TERN_STORM_SECONDS).
"""
import os
import random
import time

from conftest import message
from imaputil import RawImap

PW = "secret-" + "pw"
USER = "storm@example.test"

VERBS = ["FETCH", "UID FETCH", "STORE", "UID STORE", "SEARCH", "UID SEARCH", "COPY", "MOVE", "UID MOVE",
         "SELECT", "EXAMINE", "EXPUNGE", "UID EXPUNGE", "APPEND", "STATUS", "LIST", "LSUB", "CREATE", "DELETE",
         "RENAME", "SUBSCRIBE", "IDLE", "NOOP", "CHECK", "CLOSE", "UNSELECT", "ENABLE", "NAMESPACE",
         "GETQUOTAROOT", "ID", "COMPRESS", "LOGIN", "AUTHENTICATE", "STARTTLS"]
WORDS = ["1", "*", "1:*", "$", "2:4", "1,3,5:*", "4294967295", "0", "INBOX", "Archive", "Storm/sub", '"a b"',
         "{3}", "{5+}", "~{3+}", "(FLAGS)", "(BODY[])", "(BODY.PEEK[1.2.MIME]<0.5>)", "BINARY[1]", "ALL", "FAST",
         "FULL", "(ENVELOPE BODYSTRUCTURE)", "+FLAGS", "-FLAGS.SILENT", "FLAGS", "(\\Seen)", "(\\Deleted $x)",
         "(\\Recent)", "OR", "NOT", "(", ")", "CHARSET", "UTF-8", "BODY", "TEXT", "HEADER", "Subject",
         "SINCE", "1-Jan-2020", "MODSEQ", "100", "(CHANGEDSINCE 1)", "(UNCHANGEDSINCE 5)", "RETURN",
         "(MIN MAX COUNT SAVE)", "(CONDSTORE)", "(QRESYNC (1 2 1:5))", "DEFLATE", "NIL", '""', '"*"', '"%"',
         "(MESSAGES UNSEEN SIZE RECENT)", "QRESYNC", "IMAP4rev2", "UTF8=ACCEPT", "\x00", "\xff\xfe",
         "x" * 300, "{99999999}", "LARGER", "SMALLER", "PLAIN", "=", "(SUBSCRIBED)", "(USE (\\Junk))"]


def test_random_command_storm_leaves_server_up(tern):
    tern.add_user(USER)
    with tern.smtp() as s:
        for i in range(5):
            s.sendmail("a@remote.example", [USER], message(subject="storm %d" % i).encode())
    rng = random.Random(int(os.environ.get("TERN_STORM_SEED", "1")))
    end = time.time() + float(os.environ.get("TERN_STORM_SECONDS", "15"))
    sent = 0
    while time.time() < end:
        try:
            r = RawImap(tern.ports["imaps"], tls=True, timeout=3)
            r.login(USER, PW)
            r.sock.settimeout(0.02)
            for _ in range(rng.randint(1, 40)):
                words = [rng.choice(VERBS)] + [rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
                extra = rng.choice([b"", b"", b"abc\r\n", b"DONE\r\n", b"\r\n"])
                r.sock.sendall(("s%d %s\r\n" % (sent, " ".join(words))).encode("latin-1") + extra)
                sent += 1
                try:
                    r.sock.recv(65536)
                except OSError:
                    pass
            r.close()
        except (OSError, ConnectionError, AssertionError):
            pass    # the storm may well get a session closed on it: that is allowed
    assert sent > 500
    r = RawImap(tern.ports["imaps"], tls=True)
    r.login(USER, PW)
    _, t = r.cmd("SELECT INBOX")
    assert b" OK " in t, t
    lines, t = r.cmd("STATUS INBOX (MESSAGES)")
    assert t.startswith(b"t3 OK") and lines[0].startswith(b'* STATUS "INBOX" (MESSAGES '), lines
    r.close()
