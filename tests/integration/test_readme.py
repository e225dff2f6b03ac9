#!/usr/bin/python3
"""The README runs as written (issue 15): every ```sh block of README.md, in order, as one shell
session, in a fresh checkout-like directory, against the binaries of this build.

- The directory is a new temporary one holding links to the repository's top-level entries (tools/,
  warden.conf, das.example.json, ...) and build/ pointing at this build (the directory of
  $WARDEN_BIN), so `build/warden`, `tools/notify-sink` and the other paths of the README resolve as
  in a checkout after `make build`. Nothing outside the repository and the build is used.
- Ports: every `NAME=${NAME:-N}` of the README whose NAME ends in PORT gets a free port through the
  environment; the README itself stays copy-pasteable with its defaults.
- Each block must leave no failed command behind: a bash ERR trap records every command that
  exits non-zero (outside conditionals and `||`), and the session stops after the first block that
  had one. Each `# => TEXT` comment line in a block is a claim that TEXT appears in the block's
  output, after the text of the claim before it; a block whose output holds `m2m:dbg` (an error
  answer) must claim an error status or the `m2m:dbg` itself.
- Blocks fenced with another language (```console, ```text, ```json ...) are not run: the test
  says how many it skipped.
- A failure names the block: its number, its README line, its first lines, the failing command
  and the block's output.

The session is a process group of its own: whatever a block left running in the background is
terminated at the end, pass or fail. Run alone with
    WARDEN_BIN=$PWD/build/warden /usr/bin/python3 tests/integration/test_readme.py
(WARDEN_KEEP_TMP=1 keeps the directory for a look).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
README = os.environ.get("WARDEN_README", os.path.join(REPO, "README.md"))  # another file: for trying the test
SESSION_TIMEOUT = 120.0  # seconds for the whole README (it takes a few)
FENCE = re.compile(r"^(\s*)```([A-Za-z0-9_+-]*)\s*$")
PORT_VAR = re.compile(r"\b([A-Z0-9_]*PORT)=\$\{\1:-(\d+)\}")
CLAIM = re.compile(r"^\s*# => (.+?)\s*$")
LITERAL_PORT = re.compile(r"\b(?:127\.0\.0\.1|localhost|\[::1\]):\d+")
ERROR_CLAIM = re.compile(r"\b[45]\d{3}\b|m2m:dbg|[45]\.\d\d")


def build_dir():
    binary = os.environ.get("WARDEN_BIN", os.path.join(REPO, "build", "warden"))
    return os.path.dirname(os.path.abspath(binary))


def blocks(text):
    """[(number, lang, README line of the fence, body)] of every fenced block, in order."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang, body = i + 1, m.group(2), []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        out.append((len(out) + 1, lang, start, "\n".join(body)))
        i += 1
    return out


def free_port():
    """A port free for TCP and UDP alike on 127.0.0.1 (CoAP listens on UDP)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def checkout_like(tmp, build):
    """tmp/<entry> -> the repository's top-level entries; tmp/build -> this build."""
    for name in os.listdir(REPO):
        if name in (".git", "build", "data", "demo") or name.startswith("build-"):
            continue
        os.symlink(os.path.join(REPO, name), os.path.join(tmp, name))
    os.symlink(build, os.path.join(tmp, "build"))


def script(runnable, outdir, status):
    """One bash session running the blocks in order; fd 3 gets start/err/end records."""
    s = ["exec 3>%s" % shq(status),
         "__ERR=",
         # the trap fires for every failed simple command outside conditionals (bash semantics)
         "trap '__rc=$?; __ERR=1; printf \"err %s %s %s\\n\" \"$__B\" \"$LINENO\" \"$__rc\" >&3' ERR"]
    lines = {}
    for num, _lang, _line, body in runnable:
        s.append("__B=%d; echo \"start %d\" >&3; exec >%s/%d.out 2>&1 </dev/null" % (num, num, shq(outdir), num))
        first = len(s) + 1
        s.extend(body.split("\n"))
        lines[num] = first
        s.append("echo \"end %d\" >&3" % num)
        # a block stops what it started: a server left running would hold its port for the next one
        s.append("__left=$(jobs -l | tr '\\n' ' '); [ -z \"$__left\" ] || { echo \"left %d $__left\" >&3; __ERR=1; }"
                 % num)
        s.append("[ -z \"$__ERR\" ] || exit 1")
    return "\n".join(s) + "\n", lines


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def excerpt(text, n):
    out = text.rstrip("\n").split("\n")
    return "\n".join(out[-n:]) if len(out) > n else "\n".join(out)


class TestReadme(unittest.TestCase):
    def test_issue_15_every_readme_sh_block_runs_as_written(self):
        with open(README, encoding="utf-8") as f:
            text = f.read()
        everything = blocks(text)
        runnable = [b for b in everything if b[1] == "sh"]
        skipped = [b for b in everything if b[1] != "sh"]
        self.assertTrue(runnable, "README.md has no ```sh block")
        # a fixed local port in a block would bypass the port variables (and collide in CI)
        for num, _lang, line, body in runnable:
            m = LITERAL_PORT.search(body)
            if m:
                self.fail("README block %d (README.md line %d) uses the fixed address %s: use the port variables "
                          "of the first block ($PORT ...), adding one there if needed" % (num, line, m.group(0)))
        ports = {}
        for name, _default in PORT_VAR.findall(text):
            while name not in ports:  # distinct: a just-released port can be picked again
                p = str(free_port())
                if p not in ports.values():
                    ports[name] = p

        tmp = tempfile.mkdtemp(prefix="warden-readme-")
        outdir = os.path.join(tmp, ".readme-out")
        os.mkdir(outdir)
        status = os.path.join(outdir, "status")
        checkout_like(tmp, build_dir())
        body, first_line = script(runnable, outdir, status)
        with open(os.path.join(outdir, "session.sh"), "w") as f:
            f.write(body)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": tmp, "LC_ALL": "C.UTF-8",
               "TMPDIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        env.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})  # make test-asan's
        env.update(ports)
        t0 = time.monotonic()
        proc = subprocess.Popen(["/bin/bash", os.path.join(outdir, "session.sh")], cwd=tmp, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = False
        try:
            proc.wait(SESSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            self._end_session(proc)
        elapsed = time.monotonic() - t0
        try:
            self._judge(runnable, skipped, outdir, status, first_line, timed_out, elapsed, ports)
        finally:
            if os.environ.get("WARDEN_KEEP_TMP"):
                print("kept %s" % tmp, file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)

    def _end_session(self, proc):
        """Terminate what the session left running (its own process group), then make sure."""
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                continue
            break
        if proc.poll() is None:
            proc.wait()

    def _judge(self, runnable, skipped, outdir, status, first_line, timed_out, elapsed, ports):
        with open(status) as f:
            records = [line.split() for line in f if line.strip()]
        started = [int(r[1]) for r in records if r[0] == "start"]
        ended = {int(r[1]) for r in records if r[0] == "end"}
        left = {int(r[1]): " ".join(r[2:]) for r in records if r[0] == "left"}
        errors = {}
        for r in records:
            if r[0] == "err":
                errors.setdefault(int(r[1]), []).append((int(r[2]), int(r[3])))
        by_num = {b[0]: b for b in runnable}
        kinds = {}
        for b in skipped:
            kinds[b[1] or "(none)"] = kinds.get(b[1] or "(none)", 0) + 1
        print("README: %d sh blocks, %d run in %.1f s; %d other blocks not run (%s); ports %s" % (
            len(runnable), len(started), elapsed, len(skipped),
            ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
            " ".join("%s=%s" % kv for kv in sorted(ports.items()))), file=sys.stderr)

        for num, lang, line, body in runnable:
            out_path = os.path.join(outdir, "%d.out" % num)
            try:
                with open(out_path, encoding="utf-8", errors="replace") as f:
                    out = f.read()
            except OSError:
                out = ""

            def fail(why):
                head = "\n".join("    " + l for l in body.strip("\n").split("\n")[:4])
                self.fail("README block %d (README.md line %d, ```%s) %s\n  block begins:\n%s\n  its output "
                          "(last 40 lines):\n%s" % (num, line, lang, why, head,
                                                    "\n".join("    " + l for l in excerpt(out, 40).split("\n"))))

            if num not in started:
                self.fail("README block %d (README.md line %d) never ran: an earlier block stopped the session" %
                          (num, line))
            if num in errors:
                blines = body.split("\n")
                msgs = []
                for sline, rc in errors[num]:
                    # bash reports a line of the command; show the whole command, continuations included
                    k = min(max(sline - first_line[num], 0), len(blines) - 1)
                    while k > 0 and blines[k - 1].rstrip().endswith(("\\", "|", "&&", "||")):
                        k -= 1
                    end = k
                    while end + 1 < len(blines) and blines[end].rstrip().endswith(("\\", "|", "&&", "||")):
                        end += 1
                    cmd = "\n      ".join(l.strip() for l in blines[k:end + 1])
                    msgs.append("the command at line %d of the block (README.md line %d) exited %d:\n      %s" % (
                        k + 1, line + 1 + k, rc, cmd))
                fail("failed:\n  " + "\n  ".join(msgs))
            if num not in ended:
                fail("did not finish within %.0f s (the session's deadline)" % SESSION_TIMEOUT if timed_out else
                     "did not finish")
            if num in left:
                fail("left background processes running (stop them at the end of the block: kill $PID; wait "
                     "$PID): %s" % left[num])
            pos = 0
            claims = [m.group(1) for m in map(CLAIM.match, body.split("\n")) if m]
            for claim in claims:
                at = out.find(claim, pos)
                if at < 0:
                    fail("does not print what it claims: %r%s" % (
                        claim, "" if out.find(claim) < 0 else " (it appears, but before the previous claim)"))
                pos = at + len(claim)
            if "m2m:dbg" in out and not any(ERROR_CLAIM.search(c) for c in claims):
                fail("got an error answer (m2m:dbg) but claims no error status")
            if lang == "sh" and num == runnable[-1][0]:
                break
        self.assertFalse(timed_out, "the README session did not finish within %.0f s" % SESSION_TIMEOUT)


if __name__ == "__main__":
    unittest.main()
