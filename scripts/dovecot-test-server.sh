#!/usr/bin/env bash
# Start or stop a throwaway Dovecot IMAP server for tests and benchmarks.
#
#   scripts/dovecot-test-server.sh start DIR   # prints 127.0.0.1:PORT
#   scripts/dovecot-test-server.sh stop DIR
#
# DIR holds the config, users and log; Dovecot's socket directory and the
# Maildirs (owned by "nobody", which the mail processes run as) must be
# reachable by unprivileged users and so sit in /tmp (named after DIR,
# removed by stop; DIR/mail links to them). It listens on 127.0.0.1
# only, with plaintext auth (PLAIN, LOGIN) allowed — loopback only. Users
# (password "secret"): bot, customer, admin. The script must run as root
# (as CI does); no systemd, no Docker.
# Needs Debian's dovecot-imapd. PORT=NNNN in the environment picks the port.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
base=/tmp/dovecot-triage-$(printf '%s' "$dir" | md5sum | cut -c1-12)

case "$cmd" in
start)
  command -v dovecot >/dev/null || { echo "dovecot is not installed (apt-get install -y dovecot-imapd)" >&2; exit 3; }
  [[ $(id -u) == 0 ]] || { echo "$0 must run as root" >&2; exit 3; }
  port=${PORT:-}
  # pick_port chooses a random port nothing answers on, below the
  # kernel's range for outgoing connections' local ports: a port there
  # can be held by a client socket without anything listening on it.
  pick_port() {
    local low=32768
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    ((low > 21000)) || low=32768
    for _ in $(seq 1 50); do
      port=$((20000 + RANDOM % (low - 20000)))
      (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null || break
    done
  }
  [[ -n "$port" ]] || pick_port
  mkdir -p "$base/mail"
  chmod 755 "$base"
  chown nobody "$base/mail"
  ln -sfn "$base/mail" "$dir/mail"
  cat >"$base/users" <<EOF
bot:{PLAIN}secret::::::
customer:{PLAIN}secret::::::
admin:{PLAIN}secret::::::
EOF
  write_conf() {
  cat >"$dir/dovecot.conf" <<EOF
base_dir = $base
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:$base/mail/%u
mail_max_keyword_length = 50
imap_idle_notify_interval = 2 mins
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $base/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$base/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 200
}
EOF
  }
  # Detached from our stdout so callers reading it are not held open. A
  # port taken between the check and the bind (another test's server)
  # gets another try on a fresh port, unless PORT chose it.
  for try in 1 2 3 4 5; do
    write_conf
    if dovecot -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.log" 2>&1; then
      break
    fi
    if [[ -n "${PORT:-}" || $try == 5 ]] || ! grep -q "Address already in use" "$dir/dovecot.log"; then
      cat "$dir/dovecot.log" >&2
      exit 1
    fi
    : >"$dir/dovecot.log"
    pick_port
  done
  # Wait until it answers.
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      echo "127.0.0.1:$port" >"$dir/addr"
      echo "127.0.0.1:$port"
      exit 0
    fi
    sleep 0.05
  done
  echo "dovecot did not start; see $dir/dovecot.log" >&2
  cat "$dir/dovecot.log" >&2 || true
  exit 1
  ;;
stop)
  if [[ -f "$dir/dovecot.conf" ]]; then
    doveadm -c "$dir/dovecot.conf" stop 2>/dev/null || true
    pid=$(cat "$base/master.pid" 2>/dev/null || true)
    for _ in $(seq 1 100); do
      [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
  fi
  # A mail process may still be writing as the master exits: try again.
  for _ in $(seq 1 20); do
    rm -rf "$base" 2>/dev/null && break
    sleep 0.1
  done
  rm -rf "$base"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
