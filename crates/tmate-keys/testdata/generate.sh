#!/bin/sh
# Regenerates the known-answer vectors in this directory with the real OpenSSH tools.
#
# Every key is made by ssh-keygen; every expected output next to it is what ssh-keygen printed:
#   NAME, NAME.pub          the key pair (unencrypted OpenSSH private key, .pub line)
#   NAME.y                  `ssh-keygen -y -f NAME` (public line re-derived from the private key)
#   NAME.pub.sha256/.md5    `ssh-keygen -l -E sha256|md5 -f NAME.pub`
#   authorized_keys.sha256/.md5  `ssh-keygen -l -E ... -f authorized_keys` (one line per key)
# Security-key (sk-*) public keys need hardware to generate, so their .pub lines are assembled
# from the documented wire format (PROTOCOL.u2f) and only fingerprinted by ssh-keygen.
#
# Usage: ./generate.sh   (from anywhere; needs ssh-keygen and python3). Produced with
# OpenSSH_9.2p1 Debian-2+deb12u10. These are throwaway test keys: never use them anywhere.
set -eu
cd "$(dirname "$0")"
rm -f rsa2048* rsa3072* ed25519* ecdsa256* ecdsa384* ecdsa521* dsa1024* ca_ed25519* \
    encrypted_ed25519* sk_* authorized_keys*

COMMENT="testdata@tmate-keys"
gen() { # NAME TYPE BITS COMMENT
    ssh-keygen -q -t "$2" -b "$3" -N '' -C "$4" -f "$1"
}
gen rsa2048 rsa 2048 "$COMMENT"
gen rsa3072 rsa 3072 "$COMMENT"
gen ed25519 ed25519 256 "$COMMENT"
gen ed25519_nocomment ed25519 256 ""
gen rsa3072_nocomment rsa 3072 ""
gen ecdsa256 ecdsa 256 "$COMMENT"
gen ecdsa384 ecdsa 384 "$COMMENT"
gen ecdsa521 ecdsa 521 "$COMMENT"
gen dsa1024 dsa 1024 "$COMMENT"
ssh-keygen -q -t ed25519 -N 'passphrase' -C "$COMMENT" -f encrypted_ed25519

# A user certificate for the ed25519 key, signed by a throwaway CA.
gen ca_ed25519 ed25519 256 "ca@tmate-keys"
ssh-keygen -q -s ca_ed25519 -I "test-cert" -n tester -V 20240101:20340101 -z 42 ed25519.pub
rm -f ca_ed25519 ca_ed25519.pub

# Security-key public keys (fixed, made-up key material; PROTOCOL.u2f wire format).
python3 - <<'PY'
import base64, struct
def s(b): return struct.pack(">I", len(b)) + b
def line(t, blob, comment):
    return f"{t} {base64.b64encode(blob).decode()} {comment}\n"
ed = bytes(range(1, 33))
t = b"sk-ssh-ed25519@openssh.com"
open("sk_ed25519.pub", "w").write(line(t.decode(), s(t) + s(ed) + s(b"ssh:"), "sk@tmate-keys"))
point = b"\x04" + bytes(range(1, 33)) + bytes(range(33, 65))
t = b"sk-ecdsa-sha2-nistp256@openssh.com"
blob = s(t) + s(b"nistp256") + s(point) + s(b"ssh:")
open("sk_ecdsa256.pub", "w").write(line(t.decode(), blob, "sk@tmate-keys"))
PY
# ssh-keygen refuses an invalid curve point, so take the ECDSA point from a real key instead.
python3 - <<'PY'
import base64, struct
def s(b): return struct.pack(">I", len(b)) + b
def strings(blob):
    out, i = [], 0
    while i < len(blob):
        (n,) = struct.unpack(">I", blob[i:i+4]); out.append(blob[i+4:i+4+n]); i += 4 + n
    return out
real = strings(base64.b64decode(open("ecdsa256.pub").read().split()[1]))
t = b"sk-ecdsa-sha2-nistp256@openssh.com"
blob = s(t) + s(b"nistp256") + s(real[2]) + s(b"ssh:")
open("sk_ecdsa256.pub", "w").write(f"{t.decode()} {base64.b64encode(blob).decode()} sk@tmate-keys\n")
PY

for key in rsa2048 rsa3072 rsa3072_nocomment ed25519 ed25519_nocomment ecdsa256 ecdsa384 \
    ecdsa521 dsa1024; do
    ssh-keygen -y -f "$key" > "$key.y"
done
for pub in *.pub; do
    ssh-keygen -l -E sha256 -f "$pub" > "$pub.sha256"
    ssh-keygen -l -E md5 -f "$pub" > "$pub.md5"
done

# authorized_keys with options (quoted, with spaces and an escaped quote), comments, blank
# lines and a key without comment.
{
    echo "# comment line"
    echo
    printf 'command="echo \\"hello world\\"",no-pty %s' "$(cat ed25519.pub)"; echo
    printf 'from="10.0.0.0/8,192.168.1.1",environment="A=b c" %s\n' "$(cat rsa3072.pub)"
    printf '  restrict,port-forwarding\t%s\n' "$(cut -d' ' -f1,2 ecdsa384.pub)"
    cat ecdsa521.pub
    printf 'cert-authority,principals="a,b" %s\n' "$(cat ed25519-cert.pub)"
    cat sk_ed25519.pub
    printf 'no-agent-forwarding %s   trailing   spaces   \n' "$(cut -d' ' -f1,2 rsa2048.pub)"
} > authorized_keys
ssh-keygen -l -E sha256 -f authorized_keys > authorized_keys.sha256
ssh-keygen -l -E md5 -f authorized_keys > authorized_keys.md5
