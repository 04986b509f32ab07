#!/bin/sh
# check-clients.sh — can the real clients the tests drive do what the tests
# ask of them?  Run first by `make test` (after scripts/deps.sh test, before
# building).  One line per check; a missing program or capability names the
# Debian package that provides it (scripts/deps.sh test installs them all).
#
# By default a problem is a warning and the run goes on: the e2e tests that
# use a missing client program skip (tests/e2e/conftest.py need_client),
# those that need a capability the installed client lacks fail.  With
# TERN_REQUIRE_CLIENTS set to anything non-empty (as .ci/run does, and as
# need_client reads it) any problem makes this script exit 1, so CI fails
# before it builds.
set -u

PY=/usr/bin/python3            # what scripts/test.sh runs the e2e suite with
problems=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-check-clients.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

ok() {
	echo "check-clients: ok       $*"
}

# bad WHAT PACKAGE EFFECT
bad() {
	echo "check-clients: MISSING  $1 -- install Debian package $2; $3"
	problems=$((problems + 1))
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# ---- swaks: test_smtp_mx.py (plain SMTP), test_submission.py (-tls, AUTH LOGIN)
if ! have swaks; then
	bad "swaks" swaks "test_swaks_delivery and test_swaks_starttls_auth fail"
else
	swaks --support >"$tmp/swaks" 2>&1
	if grep -q '^=== TLS supported' "$tmp/swaks"; then
		ok "swaks: TLS"
	else
		bad "swaks TLS (Net::SSLeay: $(grep 'TLS not available' "$tmp/swaks" | sed 's/^\*\*\* *//' | head -1))" \
			libnet-ssleay-perl "test_swaks_starttls_auth fails (swaks -tls exits 10)"
	fi
	if grep -q '^=== Basic AUTH supported' "$tmp/swaks"; then
		ok "swaks: AUTH PLAIN/LOGIN"
	else
		bad "swaks AUTH LOGIN (MIME::Base64)" perl "test_swaks_starttls_auth fails"
	fi
fi

# ---- curl: test_imap_clients.py (imaps, imap + --ssl-reqd), test_pop3_clients.py (pop3s, pop3 + --ssl-reqd)
if ! have curl; then
	bad "curl" curl "the curl tests skip"
else
	protos=$(curl -V 2>/dev/null | sed -n 's/^Protocols: //p')
	features=$(curl -V 2>/dev/null | sed -n 's/^Features: //p')
	lack=""
	for p in imap imaps pop3 pop3s; do
		case " $protos " in *" $p "*) ;; *) lack="$lack $p" ;; esac
	done
	case " $features " in *" SSL "*) ;; *) lack="$lack TLS(Features: SSL)" ;; esac
	if [ -z "$lack" ]; then
		ok "curl: imap imaps pop3 pop3s, TLS ($(curl -V | head -1 | grep -o 'OpenSSL/[^ ]*\|GnuTLS/[^ ]*' | head -1))"
	else
		bad "curl without$lack" "curl (libcurl4, built with OpenSSL)" "the curl tests fail"
	fi
fi

# ---- mbsync: test_imap_clients.py (SSLType IMAPS)
if ! have mbsync; then
	bad "mbsync" isync "test_mbsync_two_way_flag_sync skips"
elif ldd "$(command -v mbsync)" 2>/dev/null | grep -q 'libssl\.so'; then
	ok "mbsync: $(mbsync --version 2>&1 | head -1), TLS (libssl)"
else
	bad "mbsync without TLS (not linked with libssl)" isync "test_mbsync_two_way_flag_sync fails"
fi

# ---- fetchmail: test_imap_clients.py (ssl), test_pop3_clients.py (ssl, sslproto TLS1.2+)
if ! have fetchmail; then
	bad "fetchmail" fetchmail "the fetchmail tests skip"
else
	# -V prints the configuration too: point it at an empty home, not the user's.
	HOME=$tmp FETCHMAILHOME=$tmp fetchmail -V >"$tmp/fetchmail" 2>&1 </dev/null
	if grep -q '^This is fetchmail release .*+SSL' "$tmp/fetchmail"; then
		ok "fetchmail: $(sed -n 's/^This is fetchmail release \([^+]*\).*/\1/p' "$tmp/fetchmail"), TLS"
	else
		bad "fetchmail with SSL (fetchmail -V shows no +SSL)" fetchmail "the fetchmail tests fail"
	fi
fi

# ---- openssl: certificates for every e2e test (conftest.py), s_client -tls1_1 (test_smtp_tls.py)
if ! have openssl; then
	bad "openssl" openssl "every e2e test fails (conftest makes its certificate with it)"
elif openssl s_client -help 2>&1 | grep -q -- '-tls1_1'; then
	ok "openssl: $(openssl version | cut -d' ' -f1-2), s_client -tls1_1"
else
	bad "openssl s_client -tls1_1" openssl "test_old_tls_refused fails"
fi

# ---- python3 and pytest: the e2e suite, run as $PY -m pytest
if [ ! -x "$PY" ]; then
	bad "$PY" python3 "the e2e suite cannot run"
else
	# every module tests/e2e imports (all from Python's standard library)
	if "$PY" - >"$tmp/py" 2>&1 <<'EOF'
import importlib, sys
mods = ("base64 email email.message imaplib itertools os pathlib poplib pwd random re "
        "resource shutil signal smtplib socket ssl subprocess sys tempfile threading time zlib").split()
missing = []
for m in mods:
    try:
        importlib.import_module(m)
    except ImportError:
        missing.append(m)
if missing:
    print("modules not importable: " + " ".join(missing))
    sys.exit(1)
import ssl
lack = [v for v in ("TLSv1_2", "TLSv1_3") if not getattr(ssl, "HAS_" + v, False)]
if lack:
    print("ssl without " + " ".join(lack))
    sys.exit(1)
print(ssl.OPENSSL_VERSION)
EOF
	then
		ok "python3: $("$PY" -V 2>&1 | cut -d' ' -f2), every module the e2e tests import, ssl with TLS 1.2/1.3 ($(cat "$tmp/py"))"
	else
		bad "python3 modules ($(cat "$tmp/py"))" "python3 (libpython3-stdlib)" "the e2e suite cannot run"
	fi
	if v=$("$PY" -m pytest --version 2>&1) && [ -n "$v" ]; then
		ok "pytest: $(echo "$v" | head -1)"
	else
		bad "pytest for $PY" python3-pytest "the e2e suite cannot run"
	fi
fi

if [ "$problems" -eq 0 ]; then
	echo "check-clients: every client the tests use is complete"
	exit 0
fi
if [ -n "${TERN_REQUIRE_CLIENTS:-}" ]; then
	echo "check-clients: $problems problem(s) and TERN_REQUIRE_CLIENTS is set: stopping (scripts/deps.sh test installs what is missing)" >&2
	exit 1
fi
echo "check-clients: $problems problem(s); going on (the tests concerned skip or fail, see above; scripts/deps.sh test installs what is missing, TERN_REQUIRE_CLIENTS=1 makes this fatal)" >&2
exit 0
