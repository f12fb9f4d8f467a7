#!/usr/bin/env python3
"""besttime.py RUNS OUT -- CMD...: run CMD RUNS times with stdout to OUT and
print the best wall time in seconds (to the millisecond) and the peak RSS
in KiB of the runs. /usr/bin/time only reports hundredths of a second,
too coarse for runs well under a second."""
import resource
import subprocess
import sys
import time

runs, out = int(sys.argv[1]), sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
best = None
for _ in range(runs):
    with open(out, "wb") as f:
        start = time.perf_counter()
        subprocess.run(cmd, stdout=f, check=True)
        took = time.perf_counter() - start
    best = took if best is None else min(best, took)
print(f"{best:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
