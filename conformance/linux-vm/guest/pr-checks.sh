# Persistent reservations as a two-node cluster uses them (fence_scsi,
# pacemaker), sourced by kernel-initiator.sh after its own checks:
# two sessions to the same LU with two initiator names (two open-iscsi
# ifaces) stand for two cluster nodes. Both register, node 1 reserves
# Write Exclusive - Registrants Only (type 5, what fence_scsi uses), both
# write; then node 2 fences node 1 with PREEMPT AND ABORT. Node 1's writes
# must get RESERVATION CONFLICT while its reads still work, node 2's writes
# must succeed, and the data is compared from both sides.
# Needs from kernel-initiator.sh: P IQN1 LUN_B and its helpers.
PR_N2=iqn.2026-11.com.example:linux-vm-node2
PR_BS=4096

pr_login_two_nodes() {
  iscsiadm -m iface -I node2 -o new &&
  iscsiadm -m iface -I node2 -o update -n iface.initiatorname -v "$PR_N2" &&
  iscsiadm -m discovery -t sendtargets -p $P -I default -I node2 &&
  iscsiadm -m node -T "$IQN1" -p $P -I default --login &&
  iscsiadm -m node -T "$IQN1" -p $P -I node2 --login || return 1
  N1=$(sd_of "$IQN1" "$LUN_B" initiatorname "$(sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi)") || { iscsiadm -m session -P 3; return 1; }
  N2=$(sd_of "$IQN1" "$LUN_B" initiatorname "$PR_N2") || { iscsiadm -m session -P 3; return 1; }
  echo "node 1: $N1, node 2: $N2"
  [ "$N1" != "$N2" ]
}
pr_same_lu() { # both disks show the same LU designators (VPD 0x83)
  sg_vpd -p di "$N1" > /tmp/di1.txt && sg_vpd -p di "$N2" > /tmp/di2.txt || return 1
  cat /tmp/di1.txt; grep -A3 'Addressed logical unit' /tmp/di1.txt > /tmp/lu1.txt
  grep -A3 'Addressed logical unit' /tmp/di2.txt > /tmp/lu2.txt
  [ -s /tmp/lu1.txt ] && cmp /tmp/lu1.txt /tmp/lu2.txt
}
pr_take_ua() { sg_turs "$1" >/dev/null 2>&1; sg_turs "$1" >/dev/null 2>&1; }
pr_keys_are() { # DEV KEYS...: READ KEYS lists exactly these keys
  d=$1; shift
  pr_take_ua "$d"
  sg_persist -n -i -k "$d" > /tmp/keys.txt 2>&1; rc=$?; cat /tmp/keys.txt
  [ $rc -eq 0 ] || return 1
  got=$(grep -o '0x[0-9a-f]*$' /tmp/keys.txt | sed 's/^0x0*/0x/' | sort | tr '\n' ' ')
  want=$(for k in "$@"; do echo "$k"; done | sort | tr '\n' ' ')
  [ "$got" = "$want" ] || { echo "keys: got '$got', want '$want'"; return 1; }
}
pr_holder_is() { # DEV KEY: READ RESERVATION: KEY holds a type 5 reservation
  pr_take_ua "$1"
  sg_persist -n -i -r "$1" > /tmp/resv.txt 2>&1; rc=$?; cat /tmp/resv.txt
  [ $rc -eq 0 ] && grep -qi "Key=$2\$" /tmp/resv.txt && grep -qi 'Write Exclusive, registrants only' /tmp/resv.txt
}
pr_block() { # FILE BYTE: one block of BYTE
  dd if=/dev/zero bs=$PR_BS count=1 2>/dev/null | tr '\000' "$2" > "$1"
}
pr_write() { # DEV LBA FILE: WRITE(10) of one block; must be GOOD
  sg_raw -s $PR_BS -i "$3" "$1" 2a 00 $(hex32 "$2") 00 00 01 00 > /tmp/raw.txt 2>&1; rc=$?; cat /tmp/raw.txt
  [ $rc -eq 0 ] && grep -q 'SCSI Status: Good' /tmp/raw.txt
}
pr_write_conflicts() { # DEV LBA FILE: the WRITE gets RESERVATION CONFLICT
  pr_take_ua "$1"
  sg_raw -s $PR_BS -i "$3" "$1" 2a 00 $(hex32 "$2") 00 00 01 00 > /tmp/raw.txt 2>&1; cat /tmp/raw.txt
  grep -qi 'Reservation Conflict' /tmp/raw.txt
}
pr_told_preempted() { # DEV: the next command gets UNIT ATTENTION, REGISTRATIONS PREEMPTED (2Ah/05h)
  sg_turs -v "$1" > /tmp/ua.txt 2>&1; cat /tmp/ua.txt
  grep -qi 'Registrations preempted' /tmp/ua.txt
}
pr_read_is() { # DEV LBA FILE: READ(10) of one block equals FILE
  pr_take_ua "$1"
  rm -f /tmp/rd.bin
  sg_raw -r $PR_BS -o /tmp/rd.bin "$1" 28 00 $(hex32 "$2") 00 00 01 00 > /tmp/raw.txt 2>&1; rc=$?; cat /tmp/raw.txt
  [ $rc -eq 0 ] && cmp "$3" /tmp/rd.bin
}
pr_logout_two_nodes() {
  iscsiadm -m node -T "$IQN1" -p $P -I node2 --logout && iscsiadm -m node -T "$IQN1" -p $P -I default --logout &&
  iscsiadm -m iface -I node2 -o delete
}

pr_block /tmp/pa.bin a; pr_block /tmp/pb.bin b; pr_block /tmp/pc.bin c
check pr_two_nodes_login pr_login_two_nodes
check pr_two_nodes_same_lu pr_same_lu
check pr_no_keys_at_start pr_keys_are "$N1"
check pr_node1_register sg_persist -n -o -G -S 0x1 "$N1"
check pr_node2_register sg_persist -n -o -G -S 0x2 "$N2"
check pr_keys_both pr_keys_are "$N2" 0x1 0x2
check pr_node1_reserve_we_ro sg_persist -n -o -R -T 5 -K 0x1 "$N1"
check pr_node1_holds pr_holder_is "$N2" 0x1
check pr_node1_writes pr_write "$N1" 256 /tmp/pa.bin
check pr_node2_writes_as_registrant pr_write "$N2" 512 /tmp/pb.bin
check pr_node2_reads_node1_data pr_read_is "$N2" 256 /tmp/pa.bin
check pr_node2_preempt_abort_node1 sg_persist -n -o -A -T 5 -K 0x2 -S 0x1 "$N2"
check pr_fenced_node1_told pr_told_preempted "$N1"
check pr_keys_after_fence pr_keys_are "$N2" 0x2
check pr_node2_holds pr_holder_is "$N2" 0x2
check pr_fenced_node1_write_conflicts pr_write_conflicts "$N1" 256 /tmp/pc.bin
check pr_fenced_node1_still_reads pr_read_is "$N1" 256 /tmp/pa.bin
check pr_survivor_writes pr_write "$N2" 256 /tmp/pc.bin
check pr_survivor_data pr_read_is "$N2" 256 /tmp/pc.bin
check pr_fenced_node1_sees_survivor_data pr_read_is "$N1" 256 /tmp/pc.bin
check pr_node2_data_kept pr_read_is "$N1" 512 /tmp/pb.bin
check pr_node2_clear sg_persist -n -o -C -K 0x2 "$N2"
check pr_no_keys_after_clear pr_keys_are "$N1"
check pr_node1_writes_again pr_write "$N1" 256 /tmp/pa.bin
check pr_two_nodes_logout pr_logout_two_nodes
