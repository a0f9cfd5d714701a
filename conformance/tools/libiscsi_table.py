#!/usr/bin/env python3
"""Turn iscsi-test-cu logs into a Markdown table of per-suite results.

Usage: libiscsi_table.py ALL-512.log ALL-4096.log [READONLY.log [RM-512.log RM-4096.log]]
       libiscsi_table.py --check SUITE.log   (exit 0 iff every test passed)
       libiscsi_table.py --counts LOG        (one line: N tests: P passed,
                                              F failed, S skipped, R no result;
                                              exit 1 if LOG has no test)

A test is FAILED if its block mentions FAILED, SKIPPED if it mentions
[SKIPPED], passed if it says "passed", and "no result" otherwise (the tool
stopped, e.g. after a lost connection).
"""
import re
import sys


def parse(path):
    """Return {suite: [(test, status, reason)]} in log order."""
    suites = {}
    suite = None
    current = None  # [test, text]
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return suites

    def close():
        if current is None or suite is None:
            return
        test, text = current
        # CUnit prints the result ("passed"/"FAILED") after the messages of
        # the test; text after the result belongs to the suite's cleanup
        # (libiscsi's persistent-reservation probe prints "[SKIPPED]
        # PERSISTENT RESERVE IN is not implemented." there) and is not
        # this test's.
        m = re.search(r"(?<![\[\w])(passed|FAILED)(?![\]\w])", text)
        own = text[: m.start()] if m else text
        result = m.group(1) if m else None
        # "[FAILED] ..." lines are libiscsi's log of a command that did not
        # return what the helper was told to expect; tests that provoke
        # errors on purpose print them and still pass. Only CUnit's result
        # word decides a failure; the last such line is the likely reason.
        reason = ""
        tag = "FAILED" if result == "FAILED" else "SKIPPED"
        found = re.findall(r"\[" + tag + r"\]\s*(.*)", own)
        if found:
            reason = found[-1].strip() if tag == "FAILED" else found[0].strip()
        if result == "FAILED":
            status = "failed"
        elif "[SKIPPED]" in own:
            status = "skipped"
        elif result == "passed":
            status = "passed"
        else:
            status = "no result"
        suites.setdefault(suite, []).append((test, status, reason))

    for line in lines:
        m = re.match(r"^Suite: (\S+)", line)
        if m:
            close()
            current = None
            suite = m.group(1)
            suites.setdefault(suite, [])
            continue
        m = re.match(r"^\s+Test: (\S+) \.\.\.(.*)", line)
        if m:
            close()
            current = [m.group(1), m.group(2)]
            continue
        if line.startswith("Run Summary"):
            close()
            current = None
            continue
        if current is not None:
            current[1] += "\n" + line
    close()
    return suites


def cell(results):
    if not results:
        return "not run"
    counts = {}
    for _, status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    if counts.get("passed", 0) == len(results):
        return "all %d passed" % len(results)
    order = ["passed", "failed", "skipped", "no result"]
    return ", ".join("%d %s" % (counts[s], s) for s in order if counts.get(s))


def notes(*runs):
    """Failures and skips grouped by reason: "failed (BeyondEol): why"."""
    groups = {}
    for results in runs:
        for test, status, reason in results:
            if status != "passed":
                tests = groups.setdefault((status, reason), [])
                if test not in tests:
                    tests.append(test)
    out = []
    for (status, reason), tests in groups.items():
        names = ", ".join(tests[:4]) + (", ..." if len(tests) > 4 else "")
        note = "%s (%s)%s" % (status, names, (": " + reason) if reason else "")
        note = note.replace("|", "/")
        if len(note) > 140:
            note = note[:137] + "..."
        out.append(note)
    if len(out) > 3:
        out = out[:3] + ["(+%d more)" % (len(out) - 3)]
    return "; ".join(out)


def check(path):
    """--check LOG: exit 0 only if every test in LOG passed (none failed,
    skipped or without result); print the others."""
    suites = parse(path)
    tests = [(sname, t) for sname, res in suites.items() for t in res]
    bad = [(sname, t) for sname, t in tests if t[1] != "passed"]
    for sname, (test, status, reason) in bad:
        print("%s.%s %s%s" % (sname, test, status, (": " + reason) if reason else ""))
    if not tests:
        print("no test results in %s" % path)
        return 1
    print("%d tests, %d passed" % (len(tests), len(tests) - len(bad)))
    return 1 if bad else 0


def counts(path):
    """--counts LOG: the per-status totals of every test in LOG."""
    totals = {"passed": 0, "failed": 0, "skipped": 0, "no result": 0}
    for res in parse(path).values():
        for _, status, _ in res:
            totals[status] += 1
    n = sum(totals.values())
    print("%d tests: %s" % (n, ", ".join("%d %s" % (v, k) for k, v in totals.items())))
    return 0 if n else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check(sys.argv[2])
    if len(sys.argv) == 3 and sys.argv[1] == "--counts":
        return counts(sys.argv[2])
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    a = parse(sys.argv[1])
    b = parse(sys.argv[2])
    ro = parse(sys.argv[3]) if len(sys.argv) > 3 else {}
    # Suites that need a removable medium run on removable LUNs instead.
    rma = parse(sys.argv[4]) if len(sys.argv) > 4 else {}
    rmb = parse(sys.argv[5]) if len(sys.argv) > 5 else {}
    if not a and not b:
        print("no iscsi-test-cu results in the logs", file=sys.stderr)
        return 1
    names = list(dict.fromkeys(list(a) + list(b) + list(ro)))
    print("| Suite | Tests | 512-byte LUN | 4096-byte LUN | Failures and skips (first ones) |")
    print("|---|---|---|---|---|")
    totals = {"512": {}, "4096": {}}
    for name in names:
        ra = a.get(name, [])
        rb = b.get(name, [])
        if name == "ReadOnly" and name in ro:
            # Run against the read-only LUN instead (512-byte column).
            ra, rb = ro[name], []
        removable = name in rma or name in rmb
        if removable:
            ra, rb = rma.get(name, []), rmb.get(name, [])
        n = max(len(ra), len(rb))
        for key, res in (("512", ra), ("4096", rb)):
            for _, status, _ in res:
                totals[key][status] = totals[key].get(status, 0) + 1
        label = "ReadOnly (read-only LUN)" if name == "ReadOnly" and name in ro else name
        if removable:
            label = name + " (removable LUNs)"
        print("| %s | %d | %s | %s | %s |" % (label, n, cell(ra), cell(rb) if rb else "-", notes(ra, rb)))
    for key in ("512", "4096"):
        t = totals[key]
        print()
        print("Totals, %s-byte LUN: " % key + ", ".join("%d %s" % (v, k) for k, v in sorted(t.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
