#!/bin/sh
# deps.sh — install the Debian packages tern needs, only those missing.
#   scripts/deps.sh build   compiler and libraries
#   scripts/deps.sh test    the above plus test tools and real clients
#   scripts/deps.sh bench   the above plus the rivals (Postfix, Dovecot)
# Uses sudo when not root.  Does nothing when everything is present.
#
# Packages are installed with --no-install-recommends, so every package a
# test relies on is listed here by name, including the ones apt would only
# have brought as a recommendation (libnet-ssleay-perl for swaks' TLS, above
# all).  scripts/check-clients.sh (run first by `make test`) checks that the
# installed clients can do what the tests ask of them.  The only thing
# assumed beforehand is what every Debian system has (Priority: required:
# coreutils, util-linux's runuser, passwd's useradd, perl-base) plus git and
# make; scripts/fresh-debian-test.sh proves it on a fresh Debian 12.
set -eu

# build: cc (and the ASan/UBSan runtimes, dependencies of gcc), the libraries
# of the Makefile's PKGS, openssl for the certificates of `make run` and of
# tests/e2e/conftest.py (and `openssl s_client` in test_smtp_tls.py);
# dns-root-data is the DNSSEC root trust anchor (/usr/share/dns/root.key)
# the resolver validates with when [dns] trust_anchor is not set; libcurl
# fetches MTA-STS policies over HTTPS; libpsl and publicsuffix (its current
# list, which libpsl-dev only recommends) give DMARC its organisational domains.
BUILD="build-essential pkg-config openssl libssl-dev libevent-dev libsqlite3-dev
 libargon2-dev libcrypt-dev libinih-dev zlib1g-dev libidn2-dev libunistring-dev
 libunbound-dev dns-root-data libcurl4-openssl-dev libpsl-dev publicsuffix"

# test:
#   libcmocka-dev                 tests/unit
#   python3 python3-pytest        tests/e2e under /usr/bin/python3 (every module they
#                                 import is in python3's standard library: ssl,
#                                 smtplib, imaplib, poplib, zlib, email, resource, ...)
#   swaks                         test_smtp_mx.py, test_submission.py (STARTTLS + AUTH LOGIN)
#   libnet-ssleay-perl            swaks' TLS (a Recommends of swaks; without it
#                                 every swaks -tls exits 10 "TLS not available")
#   libio-socket-ssl-perl         swaks' other TLS Recommends (certificate checks)
#   curl                          test_imap_clients.py, test_pop3_clients.py (imap(s),
#                                 pop3(s), --ssl-reqd; Debian's libcurl4 is OpenSSL-built)
#   isync                         mbsync, test_imap_clients.py (SSLType IMAPS)
#   fetchmail                     test_imap_clients.py, test_pop3_clients.py (ssl, sslproto)
#   ca-certificates               the CA store the TLS clients (curl, fetchmail, mbsync,
#                                 Net::SSLeay) load by default; a Recommends of libcurl4,
#                                 fetchmail and git, absent from a minimal system
#   procps                        ps/pgrep/kill for looking at a test run by hand
#   clang libclang-rt-14-dev      `make fuzz` (libFuzzer), which installs this set
#   nsd ldnsutils                 tests/e2e/dnsserver.py: the real DNS server the
#                                 resolver and delivery tests query, and
#                                 ldns-keygen/ldns-signzone for its DNSSEC zones
#   python3-aiosmtpd              the remote SMTP servers of the delivery tests
#   python3-dkim opendkim-tools   test_dkim.py: dkimpy and OpenDKIM verify what tern signs,
#                                 and sign what tern verifies
#   python3-authres               test_arc.py: dkimpy's ARC signing needs it
#   postfix                       test_delivery_postfix.py: a private Postfix instance as the
#                                 remote MX (postfixpeer.py), and bench/outbound's smtp-sink
#   dovecot-dev dovecot-core      test_imaptest.py: imaptest, built by imaptest_build below
#   autoconf automake libtool     (Dovecot's headers and dovecot-config, libdovecot.so to
#   patch                         link and run with, autogen.sh, the source's patch)
TEST="libcmocka-dev python3 python3-pytest swaks libnet-ssleay-perl libio-socket-ssl-perl curl isync
 fetchmail ca-certificates procps clang libclang-rt-14-dev nsd ldnsutils python3-aiosmtpd python3-dkim python3-authres opendkim-tools postfix
 dovecot-dev dovecot-core autoconf automake libtool patch"

# bench: bench/smtp-intake drives Postfix with its smtp-source; bench/imap
# compares with Dovecot (both also install these themselves when missing);
# strace counts the sync calls per message of both servers.
BENCH="postfix dovecot-imapd strace"

# imaptest, Dovecot's IMAP compliance tester (tests/e2e/test_imaptest.py):
# no Debian package has it, so it is built from the source beside the
# checkout (../shared/tools/imaptest, as CI lays it out; TERN_IMAPTEST_SRC
# overrides) against dovecot-dev, once per machine, into $IMAPTEST_CACHE
# with the compliance scripts next to it.  A stamp holds the checksum of the
# source, so a changed source is built again and an unchanged one never.
# Without the source it says so and goes on: the test then skips (fails
# under TERN_REQUIRE_CLIENTS).
IMAPTEST_CACHE=${TERN_IMAPTEST_CACHE:-/var/cache/tern-imaptest}
imaptest_build() {
	src=${TERN_IMAPTEST_SRC:-$(cd "$(dirname "$0")/.." && pwd)/../shared/tools/imaptest}
	if [ ! -f "$src/configure.ac" ]; then
		echo "deps: no imaptest source at $src; test_imaptest.py will skip"
		return 0
	fi
	sum=$(cd "$src" && find . -type f ! -name '.*' -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
	if [ -x "$IMAPTEST_CACHE/imaptest" ] && [ "$(cat "$IMAPTEST_CACHE/stamp" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	echo "deps: building imaptest into $IMAPTEST_CACHE"
	work=$(mktemp -d "${TMPDIR:-/tmp}/tern-imaptest.XXXXXX")
	log="$work.log"
	# The source has no .git, so configure.ac's git-version-gen reads ./version.
	# chmod: the shared source may come without write bits, and rm -rf needs them.
	if ! (cp -r "$src/." "$work" && chmod -R u+w "$work" && cd "$work" &&
		{ [ ! -f debian12-dovecot-2.3.19.patch ] || patch -s -p1 <debian12-dovecot-2.3.19.patch; } &&
		{ [ -s version ] || echo "0.0.0-tern" >version; } &&
		./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot && make -j2) >"$log" 2>&1; then
		tail -30 "$log" >&2
		echo "deps: imaptest build failed (log: $log)" >&2
		rm -rf "$work"
		exit 1
	fi
	$SUDO rm -rf "$IMAPTEST_CACHE"
	$SUDO mkdir -p "$IMAPTEST_CACHE"
	$SUDO cp "$work/src/imaptest" "$IMAPTEST_CACHE/imaptest"
	$SUDO cp -r "$work/src/tests" "$IMAPTEST_CACHE/tests"
	echo "$sum" | $SUDO tee "$IMAPTEST_CACHE/stamp" >/dev/null
	rm -rf "$work" "$log"
}

case "${1:-build}" in
build) want="$BUILD" ;;
test)  want="$BUILD $TEST" ;;
bench) want="$BUILD $TEST $BENCH" ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix asks how to configure itself; the bench writes its own config.
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
[ "$want" = "$BUILD" ] || imaptest_build
