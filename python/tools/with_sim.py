#!/usr/bin/env python3
"""Run a command against a fresh xenapi-sim: ``with_sim.py [--sim PATH] [sim args] -- cmd ...``.

Starts the simulator on 127.0.0.1 (any port), waits for its ``listening on URL`` line, runs the
command with ``XENAPI_URL``, ``XENAPI_USER`` and ``XENAPI_PASSWORD`` set, stops the simulator and
exits with the command's status.
"""

import os
import re
import subprocess
import sys
import threading


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    sim_args, cmd = argv[:split], argv[split + 1:]
    sim = os.environ.get("XENAPI_SIM", "xenapi-sim")
    if sim_args[:1] == ["--sim"]:
        sim, sim_args = sim_args[1], sim_args[2:]
    proc = subprocess.Popen(
        [sim, "--listen", "127.0.0.1:0", *sim_args], stdout=subprocess.PIPE, text=True
    )
    try:
        url = None
        for line in proc.stdout:
            m = re.match(r"listening on (\S+)", line.strip())
            if m:
                url = m.group(1)
                break
        if url is None:
            sys.exit("xenapi-sim exited before listening")
        # Keep reading what it prints, so that a chatty simulator never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        env = dict(os.environ, XENAPI_URL=url, XENAPI_USER="root", XENAPI_PASSWORD="password")
        return subprocess.call(cmd, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
