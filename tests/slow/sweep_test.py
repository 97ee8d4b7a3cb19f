"""The valid ZIP-format files a Debian machine with Python, Java and Go ships (jars, jmods,
wheels, test archives): every one that 7-Zip, bsdtar and Python all read must verify exit 0
(scripts/sweep-system-zips). A false alarm is as much a defect as a wrong exit 0."""
import os
import re
import subprocess
import sys
import unittest

SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class SystemSweep(unittest.TestCase):
    def test_every_valid_archive_the_system_ships_verifies_exit_0(self):
        p = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "sweep-system-zips"), "--jobs", "2"],
                           capture_output=True, text=True, timeout=1200)
        self.assertEqual(p.returncode, 0, p.stdout[-4000:] + p.stderr[-2000:])
        read = int(re.search(r"^read by all three: (\d+)$", p.stdout, re.M).group(1))
        ok = int(re.search(r"^verify exit 0: (\d+)$", p.stdout, re.M).group(1))
        # A file that another entry needs as a folder is refused by zipmedic's own rule, by design.
        own = int(re.search(r"^refused by zipmedic's own safety rules only: (\d+)$", p.stdout, re.M).group(1))
        # default-jdk-headless alone ships 70 .jmod files and a few dozen jars (scripts/setup).
        self.assertGreaterEqual(read, 70, p.stdout[-2000:])
        self.assertEqual(ok + own, read, p.stdout[-4000:])


if __name__ == "__main__":
    unittest.main()
