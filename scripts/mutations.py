#!/usr/bin/env python3
"""Mutation checks: each mutation breaks one promise of the bridge on purpose,
and the named tests must catch it (fail). The tree is restored after each.

    python3 scripts/mutations.py            # every mutation
    python3 scripts/mutations.py fence      # the ones whose name contains "fence"

docs/simulation.md lists the mutations and the tests that catch them.
"""
import subprocess, sys, os, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SIM = ("./engine", "^(TestSim|TestSimRegressions)$")

# name: (file, old text, new text, [(package, -run pattern), ...])
MUTATIONS = {
    "unlimited-quantum": ("engine/read.go",
        "const shareQuantum = 16384", "const shareQuantum = 1 << 40",
        [("./bridge", "^TestInboundBacklogClose$")]),
    "backlog-never-closes": ("engine/policy.go",
        "	case bound > 0 && unread > bound:\n		return inClose",
        "	case false && bound > 0 && unread > bound:\n		return inClose",
        [("./bridge", "^TestInboundBacklogClose$")]),
    "mailbox-drops-oldest-silently": ("internal/route/mailbox.go",
        "	out := make([]Mail, 0, len(items))\n",
        "	out := make([]Mail, 0, len(items))\n	if len(items) > 1 {\n		items = items[1:]\n	}\n",
        [SIM]),
    "unsent-loses-oldest": ("engine/keep.go",
        "		out = c.splitMail(out, unsentFrames(c.unsent(), n))\n",
        "		out = c.splitMail(out, unsentFrames(c.unsent(), n))\n		if len(out) > 0 {\n			out = out[1:]\n		}\n",
        [SIM, ("./bridge", "^TestMailboxRecoversUnsentExact$")]),
    "replay-skips-one": ("internal/route/replay.go",
        "	for i := range l.win.items {\n		each(",
        "	for i := range l.win.items {\n		if i == 0 {\n			continue\n		}\n		each(",
        [SIM]),
    "send-skips-the-loop": ("engine/sends.go",
        "	if len(loops) == 0 {\n		fn(colibri{e})",
        "	if true {\n		fn(colibri{e})",
        [SIM]),
    "handover-without-fence": ("engine/handover.go",
        "	c.fence(prev.loop, func() { prev.handOff(h) })",
        "	prev.loop.control(func() { prev.handOff(h) })",
        [SIM]),
    "first-attach-without-fence": ("engine/handover.go",
        "	c.fence(c.loop, func() { c.complete(nil) })",
        "	c.complete(nil)",
        [SIM]),
    "holding-socket-reads": ("engine/conn.go",
        "	case stHolding, stHoldingClosing, stHoldingFailing:\n		// Its input waits until the handover completes (handover.go).\n		return gnet.None\n",
        "",
        [SIM]),
    "second-serverhello": ("engine/lifecycle.go",
        "		if keeps && !greeting {\n			return fateKeep\n		}",
        "		if keeps {\n			return fateKeep\n		}",
        [SIM]),
    "slow-close-drops-trigger": ("engine/outbound.go",
        "		c.slowClose()\n		if !c.keepsTraffic() {",
        "		c.slowClose()\n		if true {",
        [SIM, ("./bridge", "^(TestMailboxSlowConsumerClose|TestRelayResumeSlowClose4x)$")]),
    "held-frames-after-new-when-closing": ("engine/lifecycle.go",
        "	case stHolding, stHoldingClosing, stHoldingFailing, stHoldingGone:\n		return fateHold",
        "	case stHolding:\n		return fateHold",
        [SIM]),
    "inherited-counts-against-budget": ("engine/slow.go",
        "		b += c.inherited\n",
        "",
        [SIM]),
    "resume-resets-unheard-peer": ("internal/route/replay.go",
        "	if h.Peer != link && !unheard {",
        "	if h.Peer != link || unheard {",
        [SIM]),
    "queues-surely-past-budget": ("engine/slow.go",
        "	return outAcct == 0 && !droppable && (budget <= 0 || pend+frame <= budget)\n",
        "	return outAcct == 0 && !droppable\n",
        [("./engine", "^TestQueuesSurely$")]),
    "relays-after-locals": ("internal/route/handle.go",
        "		for _, rl := range m.relays { // first: see relays' comment in router.go\n			r.addPeer(t, &rl.Peer)\n		}\n		for _, dst := range m.endpoints {\n			if dst != ep {\n				r.addPeer(t, &dst.Peer)\n			}\n		}\n",
        "		for _, dst := range m.endpoints {\n			if dst != ep {\n				r.addPeer(t, &dst.Peer)\n			}\n		}\n		for _, rl := range m.relays {\n			r.addPeer(t, &rl.Peer)\n		}\n",
        [("./internal/route", "^TestRelaysFirst$"), ("./engine", "^TestRelayWrittenFirst$")]),
    "shared-counter-per-message": ("internal/route/handle.go",
        "	k.received.Add(1)\n",
        "	k.received.Add(1)\n	r.stats.off.received.Add(1)\n",
        [("./internal/route", "^TestCountersOfTheLoop$"), ("./engine", "^TestHotPathWrites$")]),
}

def run(pkg, pattern):
    t = time.time()
    p = subprocess.run(["go", "test", "-count=1", "-run", pattern, pkg], cwd=ROOT,
                       capture_output=True, text=True)
    out = p.stdout + p.stderr
    first = next((l.strip() for l in out.splitlines() if "seed " in l and "step" in l or "--- FAIL" in l), "")
    return p.returncode != 0, time.time() - t, first

def main():
    only = sys.argv[1:]
    missed = []
    caught_n = 0
    for name, (path, old, new, tests) in MUTATIONS.items():
        if only and not any(o in name for o in only):
            continue
        full = os.path.join(ROOT, path)
        src = open(full).read()
        if src.count(old) != 1:
            print(f"{name}: the text to mutate is not in {path} exactly once")
            missed.append(name)
            continue
        open(full, "w").write(src.replace(old, new))
        try:
            for pkg, pattern in tests:
                caught, secs, first = run(pkg, pattern)
                verdict = "caught" if caught else "MISSED"
                print(f"{name}: {pkg} -run '{pattern}': {verdict} in {secs:.1f} s  {first[:150]}")
                if not caught:
                    missed.append(name)
                else:
                    caught_n += 1
        finally:
            open(full, "w").write(src)
    if missed:
        print("missed:", ", ".join(missed))
    else:
        print("every mutation caught")
    # The plain closing line CI reads: a check passes when its mutation is caught.
    print(f"mutations: {caught_n} passed, {len(missed)} failed")
    if missed:
        sys.exit(1)

if __name__ == "__main__":
    main()
