"""The CI recipes work as written: the GitHub composite action (action.yml) and the GitLab CI
component (templates/zipmedic.yml) have the keys their runners require, and their shell steps,
run in a clean temporary folder with the locally built .deb, install zipmedic, check the
archives, fail the job on damage and leave the JSON and JUnit reports. The machine's own system
is not changed: `apt-get` is a stand-in on PATH that unpacks a .deb (dpkg-deb -x) into a folder
whose usr/bin comes first on PATH, after checking that every package its Depends names is
installed here (what apt would otherwise fetch)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("ZIPMEDIC_PACKAGE_BUILD", os.path.join(SRC, "build-package"))
sys.path.insert(0, os.path.join(SRC, "tests", "cli"))
from zmtest import reports  # noqa: E402

APT_GET = r"""#!/bin/sh
# apt-get for the recipe test: `update` does nothing; `install` unpacks each .deb into $SHIM_ROOT
# once every package its Depends names (the first of alternatives) is installed on this machine,
# and requires any other package named to be installed already.
set -e
echo "apt-get $*" >> "$SHIM_LOG"
[ "$1" = update ] && exit 0
[ "$1" = install ] || { echo "apt-get stand-in: only update and install" >&2; exit 100; }
shift
for a in "$@"; do
  case $a in
    -*) ;;
    *.deb)
      case $a in /*) ;; *) echo "apt-get: $a: a local package must be given as a path with a /" >&2; exit 100 ;; esac
      dpkg-deb -f "$a" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | while read -r dep; do
        [ -z "$dep" ] || dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" ||
          { echo "apt-get stand-in: $dep (Depends of $a) is not installed" >&2; exit 100; }
      done
      dpkg-deb -x "$a" "$SHIM_ROOT" ;;
    *) dpkg-query -W -f='${Status}' "$a" 2>/dev/null | grep -q "install ok installed" ||
         { echo "apt-get stand-in: $a is not installed here" >&2; exit 100; } ;;
  esac
done
"""

TEST_TOOLCHAIN = {"golang-go", "default-jdk-headless", "lintian", "zsh", "nodejs", "npm", "p7zip-full", "unzip",
                  "zip", "python3-jsonschema", "python3-yaml", "libarchive-tools", "bash-completion",
                  "libxml2-utils"}


def fixture(name):
    with open(os.path.join(SRC, "fixtures", name), "rb") as f:
        return f.read()


class Recipes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zipmedic-recipes-")
        p = subprocess.run([os.path.join(SRC, "scripts", "package"), BUILD, os.path.join(cls.tmp, "out")],
                           capture_output=True, text=True, timeout=1500)
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("scripts/package failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
        cls.deb = p.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        """A clean folder: the job's working directory with two archives in it, and nothing else."""
        self.work = tempfile.mkdtemp(dir=self.tmp)
        self.job = os.path.join(self.work, "job")
        os.makedirs(self.job)
        for name, data in (("backup-1.zip", fixture("7zip-deflate.zip")),
                           ("backup-2.zip", fixture("infozip-file.zip")[:5000])):
            with open(os.path.join(self.job, name), "wb") as f:
                f.write(data)
        shim = os.path.join(self.work, "shim")
        os.makedirs(shim)
        with open(os.path.join(shim, "apt-get"), "w") as f:
            f.write(APT_GET)
        os.chmod(os.path.join(shim, "apt-get"), 0o755)
        self.root = os.path.join(self.work, "root")
        os.makedirs(self.root)
        self.env = {"PATH": "%s:%s/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" % (shim, self.root),
                    "HOME": self.work, "SHIM_ROOT": self.root, "SHIM_LOG": os.path.join(self.work, "apt.log"),
                    "LANG": "C.UTF-8"}

    def run_script(self, script, env, shell):
        return subprocess.run(shell + [script], cwd=self.job, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=300)

    def check_reports(self, report, junit):
        with open(os.path.join(self.job, report), "rb") as f:
            docs = reports(f.read())
        self.assertEqual([d.get("verdict") for d in docs], ["ok", "damaged", None])
        self.assertEqual(docs[-1]["summary"]["exit_status"], 1)
        xsd = os.path.join(SRC, "tests", "cli", "junit.xsd")
        v = subprocess.run(["xmllint", "--noout", "--schema", xsd, os.path.join(self.job, junit)],
                           capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stderr)
        with open(self.env["SHIM_LOG"]) as f:
            self.assertIn(self.deb, f.read())

    def test_github_action(self):
        with open(os.path.join(SRC, "action.yml")) as f:
            text = f.read()
        action = yaml.safe_load(text)
        for key in ("name", "description", "inputs", "runs"):
            self.assertIn(key, action)
        self.assertEqual(action["runs"]["using"], "composite")
        inputs = action["inputs"]
        self.assertTrue(inputs["archives"]["required"])
        for name in ("args", "report", "junit", "deb"):
            self.assertIn("default", inputs[name], name)
        steps = action["runs"]["steps"]
        upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
        self.assertEqual(len(upload), 1)
        self.assertEqual(upload[0]["if"], "always()")
        self.assertIn("${{ inputs.report }}", upload[0]["with"]["path"])
        self.assertIn("${{ inputs.junit }}", upload[0]["with"]["path"])
        self.assertEqual(action["outputs"]["exit-status"]["value"], "${{ steps.check.outputs.exit-status }}")
        given = {"archives": "backup-*.zip", "deb": self.deb, "args": "--sha256"}
        values = {k: given.get(k, v.get("default", "")) for k, v in inputs.items()}
        output = os.path.join(self.work, "github_output")
        statuses = []
        for step in steps:
            if "run" not in step:
                continue
            # Expressions only in env (never spliced into the script, where a value could inject
            # shell code): the script is run as the runner runs a bash step.
            self.assertNotIn("${{", step["run"], step["name"])
            self.assertEqual(step["shell"], "bash")
            env = {}
            for k, v in step.get("env", {}).items():
                v = re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], v)
                env[k] = v.replace("${{ github.action_path }}", SRC)
                self.assertNotIn("${{", env[k])
            env.update(RUNNER_TEMP=os.path.join(self.work, "runner-temp"), GITHUB_OUTPUT=output)
            os.makedirs(env["RUNNER_TEMP"], exist_ok=True)
            p = self.run_script(step["run"], env, ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"])
            statuses.append(p.returncode)
            if step["name"] == "Install zipmedic":
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertTrue(os.path.exists(os.path.join(self.root, "usr", "bin", "zipmedic")))
            else:
                annotations = [l for l in p.stdout.splitlines() if l.startswith("::error file=backup-2.zip,")]
                self.assertTrue(annotations, p.stdout)
        self.assertEqual(statuses, [0, 1])  # the job fails on the damaged backup
        with open(output) as f:
            self.assertEqual(f.read(), "exit-status=1\n")
        self.check_reports(values["report"], values["junit"])
        with open(os.path.join(self.job, values["report"]), "rb") as f:
            self.assertRegex(reports(f.read())[0]["archive"]["sha256"], "^[0-9a-f]{64}$")

    def test_gitlab_component(self):
        with open(os.path.join(SRC, "templates", "zipmedic.yml")) as f:
            text = f.read()
        header, body = text.split("\n---\n")
        spec = yaml.safe_load(header)["spec"]["inputs"]
        for name in ("archives", "deb"):
            self.assertNotIn("default", spec[name], "%s is required" % name)
        jobs = yaml.safe_load(body)
        self.assertEqual(list(jobs), ["zipmedic"])
        job = jobs["zipmedic"]
        for key in ("stage", "image", "script", "artifacts"):
            self.assertIn(key, job)
        self.assertEqual(job["artifacts"]["when"], "always")
        self.assertEqual(job["artifacts"]["reports"]["junit"], "$[[ inputs.junit ]]")
        self.assertEqual(set(job["artifacts"]["paths"]), {"$[[ inputs.report ]]", "$[[ inputs.junit ]]"})
        used = set(re.findall(r"\$\[\[ inputs\.([\w-]+) \]\]", body))
        self.assertEqual(used, set(spec), "every input is used, and only those")
        given = {"archives": "backup-*.zip", "deb": os.path.relpath(self.deb, self.job), "report": "out/report.json"}
        values = {k: given.get(k, v.get("default")) for k, v in spec.items()}
        self.assertEqual(values["image"], "debian:12")
        env = {k: re.sub(r"\$\[\[ inputs\.([\w-]+) \]\]", lambda m: values[m.group(1)], v)
               for k, v in job["variables"].items()}
        # GitLab runs the lines one after the other in one shell and stops at the first that fails;
        # sh is dash here, so the lines must be POSIX.
        script = "\n".join(job["before_script"] + job["script"])
        p = self.run_script("set -e\n" + script, env, ["sh", "-c"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("zipmedic 0.", p.stdout)
        self.check_reports(values["report"], values["junit"])

    def test_setup_build_only_installs_no_test_tool(self):
        listed = subprocess.run([os.path.join(SRC, "scripts", "setup"), "--build-only", "--list"],
                                capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(TEST_TOOLCHAIN & set(listed), set())
        for needed in ("g++", "cmake", "ninja-build", "libisal-dev", "libarchive-dev", "dpkg-dev"):
            self.assertIn(needed, listed)
        full = subprocess.run([os.path.join(SRC, "scripts", "setup"), "--list"], capture_output=True, text=True,
                              check=True).stdout.split()
        self.assertTrue(set(listed) < set(full))
        with open(os.path.join(SRC, "scripts", "package")) as f:
            self.assertIn('scripts/setup" --build-only', f.read())


if __name__ == "__main__":
    unittest.main()
