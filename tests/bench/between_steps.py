#!/usr/bin/env python3
"""Where the time between two broker steps goes (BENCHMARKS.md, the 18 / 1,000 rows).

Usage: between_steps.py LOG

LOG: the coordinator's log that `kroll-bench upgrade --log LOG` keeps. For every step after the
first: from the previous step's gate after passing (its last passing observation, or the rejoin
watch's) to the next step's first gate-before observation, and how much of that the full
observations' agent part took (the debug line "observed the agents", kroll::upgrade::observe).
"""
import re,sys
from datetime import datetime
def t(ts): return datetime.strptime(ts[:26],'%Y-%m-%dT%H:%M:%S.%f').timestamp()
ANSI=re.compile(r'\x1b\[[0-9;]*m')
ev=[]
for l in open(sys.argv[1],errors='replace'):
    l=ANSI.sub('',l)
    m=re.match(r'(\S+Z) DEBUG kroll::upgrade::(\w+): (.*)',l)
    if not m: continue
    ts,mod,rest=m.groups()
    if 'gate observed' in rest:
        ev.append((t(ts),'gate',re.search(r'what="([^"]+)"',rest).group(1),'verdict=passed' in rest))
    elif 'rejoin watch observed' in rest:
        ev.append((t(ts),'watch','', 'back=true' in rest))
    elif 'observed the agents' in rest:
        ev.append((t(ts),'agents',int(re.search(r'agents_ms=(\d+)',rest).group(1)),None))
gaps = []
agents = []
lastback=None; pending=None
for e in ev:
    if (e[1]=='gate' and e[2].startswith('broker') and 'back in service' in e[2] and e[3]) or (e[1]=='watch' and e[3]):
        lastback=e[0]; pending=[]
    elif e[1]=='agents' and lastback is not None:
        pending.append(e[2])
    elif e[1]=='gate' and 'safe to stop' in e[2] and lastback is not None:
        gaps.append((e[0]-lastback)*1000); agents.append(sum(pending)); lastback=None
pct=lambda v,p: round(sorted(v)[int((len(v)-1)*p)])
print(sys.argv[1],'steps',len(gaps),'gate-after pass -> next gate-before observation ms p50',pct(gaps,.5),'p90',pct(gaps,.9),'max',round(max(gaps)),'; of which observing the agents p50',pct(agents,.5),'p90',pct(agents,.9),'max',max(agents))
