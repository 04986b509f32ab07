#!/bin/sh
# deps.sh — install the Debian packages tern needs, only those missing.
#   scripts/deps.sh build   compiler and libraries
#   scripts/deps.sh test    the above plus test tools and real clients
#   scripts/deps.sh bench   the above plus the rivals (Postfix)
# Uses sudo when not root.  Does nothing when everything is present.
set -eu

BUILD="build-essential pkg-config openssl libssl-dev libevent-dev libsqlite3-dev
 libargon2-dev libcrypt-dev libinih-dev zlib1g-dev libidn2-dev libunistring-dev"
TEST="libcmocka-dev python3 python3-pytest swaks curl clang libclang-rt-14-dev procps
 isync fetchmail"
BENCH="postfix"

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
[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; the bench writes its own config.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
