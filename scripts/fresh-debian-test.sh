#!/bin/sh
# fresh-debian-test.sh — run CI (.ci/run: scripts/deps.sh test, then
# `make test`) the way a new user would: on a fresh Debian 12, from a clean
# clone of the committed HEAD, with nothing installed beforehand but git and
# make.  Proves that deps.sh lists every package the tests use.
#
#   sudo scripts/fresh-debian-test.sh [ROOT]     (default /var/tmp/deb12-root)
#
# ROOT becomes a minimal Debian 12 (debootstrap --variant=minbase: only the
# Priority: required packages, no recommends), made anew on every run.  The
# chroot shares this machine's kernel and network namespace, so the tests'
# loopback servers and apt's mirror work as they would on a real machine.
# Exit status is that of .ci/run inside the chroot; the log is ROOT.log.
set -eu

ROOT=${1:-/var/tmp/deb12-root}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
REPO=$(cd "$(dirname "$0")/.." && pwd)

[ "$(id -u)" = 0 ] || { echo "fresh-debian-test: must run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap

umount_all() {
	for m in dev/pts dev sys proc; do
		mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"
	done
	return 0
}
trap umount_all EXIT INT TERM

umount_all
rm -rf "$ROOT"
echo "fresh-debian-test: debootstrap bookworm into $ROOT"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 ||
	{ tail -20 "$ROOT.debootstrap.log"; exit 1; }

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

# A clean clone of what is committed: no build products, no local changes.
git clone -q "$REPO" "$ROOT/root/tern"
echo "fresh-debian-test: clone of $(git -C "$ROOT/root/tern" log --oneline -1)"
# The shared tools beside the checkout, as CI lays them out (imaptest's
# source, which scripts/deps.sh builds).
SHARED=$(cd "$REPO/.." && pwd)/shared
if [ -d "$SHARED/tools" ]; then
	mkdir -p "$ROOT/root/shared"
	cp -r "$SHARED/tools" "$ROOT/root/shared/"
fi

# What a new user types: install git and make, then the README's command
# (as CI does it: .ci/run = deps.sh test + TERN_REQUIRE_CLIENTS=1 make test).
rc=0
chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 TERM=dumb /bin/sh -c '
	set -e
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends git make >/dev/null
	cd /root/tern
	.ci/run
' >"$ROOT.log" 2>&1 || rc=$?
tail -25 "$ROOT.log"
echo "fresh-debian-test: .ci/run exit status $rc (log: $ROOT.log)"
exit $rc
