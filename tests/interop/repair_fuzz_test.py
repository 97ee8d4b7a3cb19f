"""A seeded short run of scripts/fuzz-repair with the six readers: every reader that has the
repaired archive's methods reads it (the long run, thousands of damaged archives, is run by hand:
scripts/fuzz-repair --count 5000 --readers)."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(HERE)))
ZIPMEDIC = os.environ.get("ZIPMEDIC", os.path.join(SRC, "build", "zipmedic"))


class RepairFuzzWithReaders(unittest.TestCase):
    def test_seeded_run(self):
        p = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "fuzz-repair"), "--seed", "5", "--count",
                            "15", "--readers", "--zipmedic", ZIPMEDIC], capture_output=True, timeout=900)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode(errors="replace")[-3000:])
        self.assertIn(b"15 damaged archives, 0 failed", p.stdout)


if __name__ == "__main__":
    unittest.main()
