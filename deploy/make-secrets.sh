#!/bin/sh
# Makes everything the compose and k8s deployments read from secrets, into deploy/secrets/ (or $1):
#   ca.crt ca.key          a private CA (keep ca.key offline once the certificates are issued)
#   server.crt server.key  one server certificate for every role, with the names compose and k8s use
#   client.crt client.key  the client certificate the trainer, evaluator and operators present (mTLS)
#   tokens                 TOKEN SCOPE lines every role accepts: one write token, one read token
#   peer-token             the write token the trainer and evaluator send to the generator / reward-model
#   read-token             the read-only token, for dashboards and people who only watch
# Re-running keeps existing files (delete one to replace it). Requires openssl >= 1.1.1.
set -eu
out=${1:-$(dirname "$0")/secrets}
mkdir -p "$out"
cd "$out"
umask 077
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
days=${JUICE_CERT_DAYS:-365}

if [ ! -f ca.crt ]; then
  openssl req -x509 $ec -keyout ca.key -out ca.crt -days 3650 -subj "/CN=juice CA"
fi

issue() { # name, extensions
  [ -f "$1.crt" ] && return 0
  printf '%s\n' "$2" > "$1.ext"
  openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=juice $1"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days "$days" -extfile "$1.ext"
  rm -f "$1.csr" "$1.ext"
}

# The names clients dial: compose service names, k8s Service names (short, namespaced, FQDN), loopback.
sans="DNS:localhost,IP:127.0.0.1"
for role in generator reward-model trainer evaluator; do
  sans="$sans,DNS:$role,DNS:juice-$role,DNS:juice-$role.juice,DNS:juice-$role.juice.svc,DNS:juice-$role.juice.svc.cluster.local"
done
issue server "subjectAltName=$sans
extendedKeyUsage=serverAuth"
issue client "extendedKeyUsage=clientAuth"

if [ ! -f tokens ]; then
  write=$(openssl rand -hex 32)
  read=$(openssl rand -hex 32)
  printf '# TOKEN SCOPE (scope read or write)\n%s write\n%s read\n' "$write" "$read" > tokens
  printf '%s\n' "$write" > peer-token
  printf '%s\n' "$read" > read-token
fi
# Compose bind-mounts secret files with their host owner and mode, and the services run as uid 1000:
# the files are world-readable and the directory (0700) is what keeps other host users out.
chmod 0700 .
chmod 0644 ca.crt server.crt server.key client.crt client.key tokens peer-token read-token
chmod 0600 ca.key
echo "secrets in $(pwd): $(ls | tr '\n' ' ')"
