"""
Dovecot's imaptest compliance scripts against tern's IMAP server: one
pytest test per script group (src/tests/<group> of imaptest), each run as
its own imaptest process so a failure names its group and shows
imaptest's own account of what was expected and what came.

imaptest is built by scripts/deps.sh test (imaptest_build) into
/var/cache/tern-imaptest (TERN_IMAPTEST_CACHE overrides): the binary and
the scripts beside it.  When it is not there the tests skip, or fail
with TERN_REQUIRE_CLIENTS set, like every real-client test.

What imaptest reports, and what is checked:
  stdout  "N test groups: F failed, S skipped due to missing capabilities"
          "base protocol: a/b individual commands failed"
          "extensions: c/d individual commands failed"
  stderr  one "*** Test GROUP command i/n (line L)" block per failure,
          "Error: ..." lines (a BAD reply, a failed LOGIN)
A run passes only with the summary present (else imaptest died early),
1 group, 0 failed, 0 skipped, at least one command run, 0 failed
commands, no failure block, exit 0.

A group in SCRIPT_FIXES has a script that no RFC-conforming server can
pass as it stands (it expects a known Dovecot deviation, or lacks a
set-up line).  The original still runs, and must fail at exactly the
commands listed and nowhere else; then the script with the listed
rewrites must pass in full.  A group whose "capabilities:" tern
does not announce is dropped by imaptest without a word: it reports
"0 failed, 0 skipped" and 0/0 commands, so "no command ran" is what
catches a missing (or no longer announced) capability.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import Tern, new_workdir, provision
from imaputil import RawImap

CACHE = os.environ.get("TERN_IMAPTEST_CACHE", "/var/cache/tern-imaptest")
IMAPTEST = os.path.join(CACHE, "imaptest")
SCRIPTS = os.path.join(CACHE, "tests")
USER = "imaptest@example.test"
# The second account (imaptest's user2=) for groups with "user 2: $user2"
# (urlauth2: a URL made by the first user, fetched by the second).
USER2 = "imaptest2@example.test"
PASSWORD = "imaptest-" + "pw"

SUMMARY_GROUPS = re.compile(r"^(\d+) test groups: (\d+) failed, (\d+) skipped", re.M)
SUMMARY_BASE = re.compile(r"^base protocol: (\d+)/(\d+) individual commands failed", re.M)
SUMMARY_EXT = re.compile(r"^extensions: (\d+)/(\d+) individual commands failed", re.M)
FAILURE = re.compile(r"^\*\*\* Test .*", re.M)


def groups():
    """The script groups: every file of the scripts directory but the .mbox
    message sources (as imaptest itself scans a directory)."""
    if not os.path.isdir(SCRIPTS):
        return []
    return sorted(f for f in os.listdir(SCRIPTS)
                  if not f.startswith(".") and not f.endswith(".mbox")
                  and os.path.isfile(os.path.join(SCRIPTS, f)))


# Where scripts/deps.sh builds imaptest from (its TERN_IMAPTEST_SRC default).
SOURCE = os.environ.get("TERN_IMAPTEST_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "..", "..", "..", "shared", "tools", "imaptest"))

# Groups tern does not pass yet, each for the reason imaptest
# gives.  Strict: a group that starts passing fails here until it is taken
# off the list, so the list can only shrink.
KNOWN_FAILING = {   # none: every group passes (SCRIPT_FIXES below as fixed)
}

# Groups whose scripts need fixing before a server that follows the RFCs
# can pass them: why; "lines", the script lines whose commands fail as
# the script stands (and no others do); "header", lines to put first;
# "rewrite", (regex, replacement) applied to the expectations of those
# lines' commands.
SCRIPT_FIXES = {
    # URLFETCH (url BINARY BODYPARTSTRUCTURE), RFC 5524 §5: url-metadata =
    # 1*(SP "(" url-metadata-el ")"), one list per item, and §3.1: with
    # BINARY the BODYPARTSTRUCTURE describes the data BINARY returns, so its
    # leaves are no longer "base64".  Dovecot puts both items in one list
    # and keeps "base64"; its maintainer calls the first a bug
    # (github.com/dovecot/imaptest pull request 3, 2021).  Cyrus fails these
    # two commands as well.
    "urlauth-binary": {
        "why": "Dovecot answers (BODYPARTSTRUCTURE ... BINARY ...) in one list, RFC 5524 wants two",
        "lines": {57, 85},
        "header": [],
        "rewrite": [(r"\) (?i:binary) \{\{\{", ")) (BINARY {{{"), (r'"base64"', '"binary"')],
    },
    # Its first command fetches messages 1:2, but unlike "urlauth" (the same
    # test with one user) the script has no "messages: 2", so imaptest puts
    # no message in the mailbox and every command after depends on the
    # failed fetch (imaptest stops at the next, line 9, on the unset $uid1).
    # Dovecot never runs it: without user2= imaptest skips the group.
    "urlauth2": {
        "why": "the script lacks the \"messages: 2\" its first command needs",
        "lines": {5, 9},
        "header": ["messages: 2"],
        "rewrite": [],
    },
}


def need_imaptest():
    if os.access(IMAPTEST, os.X_OK) and groups():
        return
    why = "imaptest is not built in %s (scripts/deps.sh test builds it)" % CACHE
    # Required where its source is (CI has it beside the checkout), not where it cannot be built.
    if os.environ.get("TERN_REQUIRE_CLIENTS") and os.path.isfile(os.path.join(SOURCE, "configure.ac")):
        pytest.fail(why + " and TERN_REQUIRE_CLIENTS is set")
    pytest.skip(why)


@pytest.fixture(scope="module")
def imap_server(certs):
    """One tern for every group: imaptest recreates its mailbox per group.
    LOGIN in plain text (no STARTTLS: imaptest's scripts log in first)."""
    need_imaptest()
    t = Tern(new_workdir(), certs, auth={"allow_plaintext": "yes"})
    provision(t)
    t.add_user(USER, PASSWORD)
    t.add_user(USER2, PASSWORD)
    t.start()
    # imaptest's other connections SELECT the test mailbox in their own
    # account; only the first user's is made afresh by imaptest itself.
    c = RawImap(t.ports["imap"])
    c.login(USER2, PASSWORD)
    _, r = c.cmd('CREATE "imaptest"')
    assert b" OK " in r, r
    c.close()
    yield t
    rc = t.stop()
    t.check_clean_log()
    assert rc == 0, "tern exited with %s:\n%s" % (rc, t.log())
    shutil.rmtree(t.dir, ignore_errors=True)


def run_imaptest(port, script):
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/dovecot")
    return subprocess.run(
        [IMAPTEST, "host=127.0.0.1", "port=%d" % port, "user=" + USER, "user2=" + USER2,
         "pass=" + PASSWORD, "test=" + script],
        env=env, capture_output=True, text=True, errors="replace", timeout=120)


def required_capabilities(group):
    """The group's "capabilities:" header line, as imaptest reads it."""
    try:
        with open(os.path.join(SCRIPTS, group), errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                if line.startswith("capabilities:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "none listed"


FAILED_LINE = re.compile(r"^\*\*\* Test \S+ command \d+/\d+ \(line (\d+)\)", re.M)


def fixed_script(group, dest):
    """The group's script with its SCRIPT_FIXES applied, written into dest
    beside copies of the message sources; returns the script's path."""
    fix = SCRIPT_FIXES[group]
    with open(os.path.join(SCRIPTS, group), errors="replace") as f:
        lines = f.read().split("\n")
    changed = set()
    for n in fix["lines"] if fix["rewrite"] else ():
        # A command's expectations follow it up to the next blank line.
        i = n
        while i < len(lines) and lines[i].strip():
            new = lines[i]
            for pat, rep in fix["rewrite"]:
                new = re.sub(pat, rep, new)
            if new != lines[i]:
                changed.add(n)
            lines[i] = new
            i += 1
    assert not fix["rewrite"] or changed == fix["lines"], \
        "the rewrites no longer match lines %s of %s" % (sorted(fix["lines"] - changed), group)
    path = os.path.join(dest, group)
    with open(path, "w") as f:
        f.write("\n".join(fix["header"] + lines))
    # imaptest reads GROUP.mbox beside the script, or else default.mbox there.
    for name in (group + ".mbox", "default.mbox"):
        if os.path.exists(os.path.join(SCRIPTS, name)):
            shutil.copy(os.path.join(SCRIPTS, name), os.path.join(dest, name))
    return path


def check_unfixed(group, r):
    """The original script of a SCRIPT_FIXES group: the commands of its
    listed lines fail, and nothing else does."""
    want = SCRIPT_FIXES[group]["lines"]
    got = {int(n) for n in FAILED_LINE.findall(r.stderr)}
    problems = [] if got == want else ["failed at lines %s, expected exactly %s" % (sorted(got), sorted(want))]
    if "initialization failed" in r.stderr:
        problems.append("the test's set-up failed")
    return problems


def check_report(group, r):
    """Every way the run can say it went wrong, in one message."""
    out, err = r.stdout, r.stderr
    problems = []
    m = SUMMARY_GROUPS.search(out)
    base = SUMMARY_BASE.search(out)
    ext = SUMMARY_EXT.search(out)
    if not (m and base and ext):
        problems.append("no summary (imaptest exited with %d before the end)" % r.returncode)
    else:
        total, failed, skipped = map(int, m.groups())
        if total != 1:
            problems.append("%d groups ran, not 1" % total)
        if failed:
            problems.append("group failed")
        if skipped:
            problems.append("group skipped: a capability it needs is not announced")
        if int(base.group(2)) + int(ext.group(2)) == 0:
            problems.append("no command ran: tern lacks a capability the group needs (%s)"
                            % required_capabilities(group))
        if int(base.group(1)):
            problems.append("base protocol: %s/%s commands failed" % base.groups())
        if int(ext.group(1)):
            problems.append("extensions: %s/%s commands failed" % ext.groups())
    fails = FAILURE.findall(err)
    if fails:
        problems.append("%d failure reports" % len(fails))
    if r.returncode != 0:
        problems.append("exit status %d" % r.returncode)
    return problems


@pytest.mark.parametrize("group", [
    pytest.param(g, marks=pytest.mark.xfail(reason=KNOWN_FAILING[g], strict=True)) if g in KNOWN_FAILING else g
    for g in groups()] or ["(imaptest not built)"])
def test_imaptest_group(imap_server, group, tmp_path):
    r = run_imaptest(imap_server.ports["imap"], os.path.join(SCRIPTS, group))
    if group in SCRIPT_FIXES:
        problems = check_unfixed(group, r)
        assert not problems, "imaptest %s, script unfixed: %s\n--- stdout\n%s\n--- stderr\n%s" % (
            group, "; ".join(problems), r.stdout, r.stderr)
        r = run_imaptest(imap_server.ports["imap"], fixed_script(group, str(tmp_path)))
    problems = check_report(group, r)
    assert not problems, "imaptest %s: %s\n--- stdout\n%s\n--- stderr\n%s" % (
        group, "; ".join(problems), r.stdout, r.stderr)


def test_imaptest_report_parser():
    """The parser above must see a failure in imaptest's real failure
    format (a captured report), so a changed format cannot pass unseen."""
    class R:
        returncode = 2
        stdout = ("1 test groups: 1 failed, 0 skipped due to missing capabilities\n"
                  "base protocol: 1/13 individual commands failed\n"
                  "extensions: 0/0 individual commands failed\n")
        stderr = ("*** Test move command 12/13 (line 44)\n"
                  " - failed: Expected tagged reply 'ok', got 'NO [CANNOT] x'\n"
                  " - Command (tag 37.42): move 1 $mailbox\n")
    problems = check_report("move", R)
    assert "group failed" in problems
    assert "base protocol: 1/13 commands failed" in problems
    assert "1 failure reports" in problems
    assert "exit status 2" in problems

    class Ok:
        returncode = 0
        stdout = ("1 test groups: 0 failed, 0 skipped due to missing capabilities\n"
                  "base protocol: 0/13 individual commands failed\n"
                  "extensions: 0/0 individual commands failed\n")
        stderr = ""
    assert check_report("move", Ok) == []

    class Died:
        returncode = 89
        stdout = ""
        stderr = "Fatal: connect(127.0.0.1) failed\n"
    assert check_report("move", Died) == ["no summary (imaptest exited with 89 before the end)",
                                          "exit status 89"]

    # What imaptest prints for a group whose capability is not announced:
    # nothing failed, nothing "skipped", and nothing ran either.
    class Dropped:
        returncode = 0
        stdout = ("1 test groups: 0 failed, 0 skipped due to missing capabilities\n"
                  "base protocol: 0/0 individual commands failed\n"
                  "extensions: 0/0 individual commands failed\n")
        stderr = ""
    assert [p for p in check_report("move", Dropped) if p.startswith("no command ran")]
