#!/usr/bin/env bash
# CHAP and initiator ACLs with libiscsi's tools (initiator name with -i,
# CHAP in the URL as iscsi://user%secret@host/..., mutual CHAP with the
# URL arguments target_user/target_password):
#   right secret logs in; wrong or missing secret fails with login status
#   0x0201 (Authentication failure, 513); an initiator missing from
#   allowed_initiators fails with 0x0202 (Authorization failure, 514) and
#   does not see the target in SendTargets; mutual CHAP works both ways.
set -u
. "$(dirname "$0")/lib.sh"
need iscsi-inq iscsi-ls
make_workdir

SECURE=iqn.2026-11.org.xtgt.conformance:secure
MUTUAL=iqn.2026-11.org.xtgt.conformance:mutual
OPEN=iqn.2026-11.org.xtgt.conformance:open
GOOD=iqn.2026-11.org.xtgt.conformance:good-initiator
BAD=iqn.2026-11.org.xtgt.conformance:bad-initiator
cat >"$WORK/xtgt.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]

[[targets]]
iqn = "$SECURE"
allowed_initiators = ["$GOOD"]
chap = { user = "alice", secret = "alice-secret" }
[[targets.luns]]
lun = 0
backend = "memory"
size = "16MiB"

[[targets]]
iqn = "$MUTUAL"
chap = { user = "bob", secret = "bob-secret-1234" }
mutual_chap = { user = "mutual-target", secret = "target-secret-1" }
[[targets.luns]]
lun = 0
backend = "memory"
size = "16MiB"

[[targets]]
iqn = "$OPEN"
[[targets.luns]]
lun = 0
backend = "memory"
size = "16MiB"
TOML
start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }

# login NAME EXPECT INITIATOR URL: EXPECT is "ok" or the login status text.
login() {
    local name=$1 expect=$2 initiator=$3 url=$4 out rc
    out=$(timeout 30 iscsi-inq -d -i "$initiator" "$url" 2>&1)
    rc=$?
    if [ "$expect" = ok ]; then
        if [ $rc -eq 0 ] && grep -q "Peripheral Device Type:DIRECT_ACCESS" <<<"$out"; then
            pass "chap: $name"
        else
            fail "chap: $name" "expected a successful login, exit status $rc" "$(tail -3 <<<"$out")"
        fi
    else
        if [ $rc -ne 0 ] && grep -qF "$expect" <<<"$out"; then
            pass "chap: $name"
        else
            fail "chap: $name" "expected a login failure with \"$expect\", exit status $rc" "$(tail -3 <<<"$out")"
        fi
    fi
}

H=$PORTAL
login "right secret logs in" ok "$GOOD" "iscsi://alice%alice-secret@$H/$SECURE/0"
login "wrong secret fails with 0x0201" "Authentication failure(513)" "$GOOD" "iscsi://alice%wrong-secret1@$H/$SECURE/0"
login "wrong user fails with 0x0201" "Authentication failure(513)" "$GOOD" "iscsi://mallory%alice-secret@$H/$SECURE/0"
login "no CHAP offered fails with 0x0201" "Authentication failure(513)" "$GOOD" "iscsi://$H/$SECURE/0"
login "initiator not allowed fails with 0x0202" "Authorization failure(514)" "$BAD" "iscsi://alice%alice-secret@$H/$SECURE/0"
login "open target needs no CHAP" ok "$BAD" "iscsi://$H/$OPEN/0"
login "mutual CHAP, right secrets" ok "$GOOD" \
    "iscsi://bob%bob-secret-1234@$H/$MUTUAL/0?target_user=mutual-target&target_password=target-secret-1"
login "mutual CHAP, wrong target secret is refused by the initiator" "Invalid CHAP_R response from the target" "$GOOD" \
    "iscsi://bob%bob-secret-1234@$H/$MUTUAL/0?target_user=mutual-target&target_password=not-the-secret"

out=$(timeout 30 iscsi-ls -i "$BAD" "iscsi://$H" 2>&1)
if grep -q "Target:$OPEN" <<<"$out" && ! grep -q "Target:$SECURE" <<<"$out"; then
    pass "chap: SendTargets hides the target from a non-allowed initiator"
else
    fail "chap: SendTargets hides the target from a non-allowed initiator" "$out"
fi
out=$(timeout 30 iscsi-ls -i "$GOOD" "iscsi://$H" 2>&1)
if grep -q "Target:$SECURE" <<<"$out" && grep -q "Target:$OPEN" <<<"$out"; then
    pass "chap: SendTargets shows the target to an allowed initiator"
else
    fail "chap: SendTargets shows the target to an allowed initiator" "$out"
fi

if xtgt_alive; then pass "chap: xtgt still running"; else fail "chap: xtgt still running"; fi
stop_xtgt
summary
