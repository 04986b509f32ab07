#!/bin/sh
# run.sh — `make run`: a demo tern on loopback, in the foreground.
# Creates ./var/ once (config, self-signed certificate, data, a demo domain
# and account), prints how to use it, then serves until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
VAR=$TOP/var
TERN=$TOP/build/tern
mkdir -p "$VAR"

data_dir=$VAR/data
user_line=""
if [ "$(id -u)" = 0 ]; then
	# tern never serves as root: it drops to the system user "tern".
	if ! id tern >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tern
	fi
	user_line="user = tern"
	mkdir -p "$data_dir"
	chown tern: "$data_dir"
	if ! runuser -u tern -- test -w "$data_dir" 2>/dev/null; then
		data_dir=/var/lib/tern-demo
		echo "note: user 'tern' cannot reach $VAR (a parent directory is private); using $data_dir"
	fi
fi

if [ ! -f "$VAR/cert.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		-keyout "$VAR/key.pem" -out "$VAR/cert.pem" 2>/dev/null
	chmod 600 "$VAR/key.pem"
	[ -n "$user_line" ] && chown tern: "$VAR/key.pem"
fi

cat > "$VAR/tern.conf" <<CONF
# Written by 'make run'; edit freely, it is rewritten on the next 'make run'.
hostname = localhost
data_dir = $data_dir
$user_line
postmaster = demo@demo.test

[tls]
cert = $VAR/cert.pem
key = $VAR/key.pem

[listen]
smtp = 127.0.0.1:2525
submission = 127.0.0.1:2587
submissions = 127.0.0.1:2465
imap = 127.0.0.1:2143
imaps = 127.0.0.1:2993
pop3 = 127.0.0.1:2110
pop3s = 127.0.0.1:2995

[log]
level = info
CONF

T="$TERN -c $VAR/tern.conf"
$T domain list | grep -qx demo.test || $T domain add demo.test
if [ ! -f "$VAR/demo-password" ]; then
	head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$VAR/demo-password"
	chmod 600 "$VAR/demo-password"
fi
PASSWORD=$(cat "$VAR/demo-password")
if $T user list demo.test | grep -qx demo@demo.test; then
	echo "$PASSWORD" | $T user passwd demo@demo.test --password-stdin
else
	echo "$PASSWORD" | $T user add demo@demo.test --password-stdin
fi

cat <<INFO

  tern demo — data in $data_dir, config $VAR/tern.conf

  account   demo@demo.test
  password  $PASSWORD

  SMTP (MX)          127.0.0.1:2525
  submission         127.0.0.1:2587 (STARTTLS, AUTH)
  submissions        127.0.0.1:2465 (TLS, AUTH)
  IMAP               127.0.0.1:2143 (STARTTLS), 127.0.0.1:2993 (TLS)
  POP3               127.0.0.1:2110 (STLS), 127.0.0.1:2995 (TLS)

  try:  swaks --server 127.0.0.1:2525 --to demo@demo.test
        swaks --server 127.0.0.1:2587 -tls --auth-user demo@demo.test --auth-password '$PASSWORD' \\
              --from demo@demo.test --to someone@example.org
        $TERN -c $VAR/tern.conf mail list demo@demo.test
        curl -k --user 'demo@demo.test:$PASSWORD' 'imaps://127.0.0.1:2993/INBOX;UID=1'

  Ctrl-C stops the server.

INFO
exec $T serve
