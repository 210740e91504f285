#!/usr/bin/env python3
"""Holding j over a slow link (issue 14's target): a guest of `vitrine serve` behind an emulated
1 Mbit/s, 50 ms round-trip link holds `j` for 2 s at 30 presses a second; how long after the last
press does the guest's screen show the row the keys reached?

    bench/frames/slow_link.py [--vitrine BIN] [--data DIR] [--rate-kbit 1000] [--delay-ms 25]

The link: `tc netem` in a network namespace needs the kernel's sch_netem, which containers often
lack, so the link is emulated in this script: a TCP relay on 127.0.0.1 between `ssh` and the
server that passes each direction through a token bucket of the given rate and holds every chunk
for the one-way delay. The guest is `ssh` in tmux (120x40), the screen read with capture-pane.
Measured for 256 colours and truecolor, full images and `--link slow`. Runs as root (a dedicated
account is made and removed, as the end-to-end tests do) or as the user who owns the repository.
A benchmark, not a test: it prints figures; nothing passes or fails.
"""
import argparse, os, re, shutil, socket, subprocess, sys, tempfile, threading, time

class Relay:
    """127.0.0.1:listen -> 127.0.0.1:target, each direction at `rate` bytes/s after `delay` s."""
    def __init__(self, target, rate, delay):
        self.target, self.rate, self.delay = target, rate, delay
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.sent = {"down": 0, "up": 0}
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, "down"), daemon=True).start()

    def pump(self, src, dst, direction):
        # Chunks are timestamped on arrival, leave no earlier than arrival + delay, and the link
        # carries `rate` bytes a second: a chunk occupies it for len/rate seconds.
        import collections
        queue = collections.deque()
        cond = threading.Condition()
        done = [False]
        def reader():
            while True:
                try:
                    data = src.recv(16384)
                except OSError:
                    data = b""
                with cond:
                    if not data:
                        done[0] = True
                    else:
                        queue.append((time.monotonic(), data))
                    cond.notify()
                if not data:
                    return
        threading.Thread(target=reader, daemon=True).start()
        link_free = time.monotonic()
        while True:
            with cond:
                while not queue and not done[0]:
                    cond.wait()
                if not queue and done[0]:
                    break
                arrived, data = queue.popleft()
            start = max(link_free, arrived)
            link_free = start + len(data) / self.rate
            leave = max(link_free, arrived + self.delay)
            pause = leave - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                dst.sendall(data)
            except OSError:
                break
            self.sent[direction] += len(data)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def tmux(sock, *args):
    return subprocess.run(["tmux", "-L", sock] + list(args), capture_output=True, text=True).stdout

def wait_for(sock, what, timeout):
    end = time.time() + timeout
    while time.time() < end:
        screen = tmux(sock, "capture-pane", "-p", "-t", "g")
        if what(screen):
            return screen
        time.sleep(0.02)
    raise SystemExit(f"timed out; the screen:\n{screen}")

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrine", default=os.path.join(repo, ".build/release/vitrine"))
    ap.add_argument("--data", default=os.path.join(repo, "SampleData"))
    ap.add_argument("--rate-kbit", type=float, default=1000)
    ap.add_argument("--delay-ms", type=float, default=25)
    ap.add_argument("--presses", type=int, default=60)
    a = ap.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    root = tempfile.mkdtemp(prefix="vitrine-slowlink-")
    os.chmod(root, 0o755)
    account, user_flag = None, []
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", root + "/key"], check=True)
        shutil.copy(root + "/key.pub", root + "/keys")
        if os.geteuid() == 0:
            account = f"vslow{os.getpid() % 100000}"
            groups = ["-G", "tty"] if subprocess.run(["getent", "group", "tty"], capture_output=True).returncode == 0 else []
            subprocess.run(["useradd", "--system", "--create-home", "--home-dir", root + "/home", "--shell", "/bin/sh"] + groups + [account], check=True)
            user_flag = ["--user", account]
        else:
            account = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
        server = subprocess.Popen([a.vitrine, "serve", *user_flag, "--listen", "127.0.0.1", "--port", str(port),
                                   "--authorized-keys", root + "/keys", "--max-sessions", "4", "--state", root + "/state",
                                   "--data", a.data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in server.stdout:
            if "guests connect with" in line:
                break
        else:
            raise SystemExit("vitrine serve did not start")
        threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()
        relay = Relay(port, a.rate_kbit * 1000 / 8, a.delay_ms / 1000)
        print(f"machine: {cpu}, {os.cpu_count()} cores; link {a.rate_kbit:.0f} kbit/s each way, "
              f"{2 * a.delay_ms:.0f} ms round trip (relay in this script); 120x40; j held at 30/s for {a.presses / 30:.1f} s")
        for name, colour, link in (("256 colours", "", ""), ("truecolor", "truecolor", ""),
                                   ("256 colours, L (slow link)", "", "L"), ("truecolor, L (slow link)", "truecolor", "L")):
            sock = f"vitrine-slowlink-{os.getpid()}-{len(name)}{colour}{link}"
            env = f"env LC_ALL=C.UTF-8 TERM=xterm-256color COLORTERM={colour}"
            ssh = (f"{env} ssh -tt -o SendEnv=COLORTERM -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   f"-o LogLevel=ERROR -i {root}/key -p {relay.port} {account}@127.0.0.1")
            subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "g", "-x", "120", "-y", "40", ssh], check=True)
            try:
                wait_for(sock, lambda s: "gallery ·" in s and "1/" in s, 60)
                if link:
                    tmux(sock, "send-keys", "-t", "g", link)
                    wait_for(sock, lambda s: "slow link" in s, 10)
                time.sleep(2.0)
                before = dict(relay.sent)
                for i in range(a.presses):
                    tmux(sock, "send-keys", "-t", "g", "j")
                    last = time.monotonic()
                    if i + 1 < a.presses:
                        time.sleep(1 / 30)
                target = f" {1 + a.presses}/"
                wait_for(sock, lambda s: target in s, 30)
                caught = time.monotonic() - last
                wait_for(sock, lambda s: target in s and "loading" not in s, 30)
                down = relay.sent["down"] - before["down"]
                print(f"  {name:<28} the row reached on screen {caught * 1000:6.0f} ms after the last press; "
                      f"{down:>8} B down the link while held ({down / a.presses:,.0f} B a press)")
            finally:
                subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        server.terminate()
        server.wait(timeout=30)
    finally:
        if account and os.geteuid() == 0:
            subprocess.run(["pkill", "-KILL", "-u", account], capture_output=True)
            subprocess.run(["userdel", account], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

if __name__ == "__main__":
    main()
