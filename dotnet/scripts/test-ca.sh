#!/bin/sh
# Makes, in DIR, what SystemTrustTests needs: a company CA (ca.pem), a certificate for 127.0.0.1
# it signed (server.pem, server.key) for the simulator's --tls-cert/--tls-key, and another CA
# (stranger.pem) that did not sign it. Fresh each run (openssl; keys of 2 days).
set -e
dir=${1:?usage: test-ca.sh DIR}
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
    -days 2 -subj "/O=$2/CN=$2 Root CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
ca ca "Example Corp"
ca stranger "Someone Else"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj "/CN=pool coordinator" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 -extfile ext.cnf \
  -out server.pem 2>/dev/null
