#!/usr/bin/env python3
"""Bytes written to the terminal per keypress (issue 14's frame budget), measured the way the
issue measured them: a program in a pseudo-terminal of 120x40, one key at a time, every byte it
writes until it has been quiet for a while counted, the median over the keys reported.

    bench/frames/bytes_per_key.py [--vitrine BIN] [--data DIR] [--keys 20]

Vitrine runs in the browser (j: one row down), in the results (j after a search) and paging
(space), in 256 colours (TERM=xterm-256color) and in truecolor (COLORTERM=truecolor), each with
full images and with `--link slow`; `less` on
the same gallery file, moved one line and one page, is the anchor measured in the same run.
A benchmark, not a test: it prints figures; nothing passes or fails.
"""
import argparse, contextlib, os, pty, select, shutil, signal, statistics, sys, time

def spawn(argv, env, cols=120, rows=40, pixels=(0, 0)):
    """`argv` in a pseudo-terminal of `cols` x `rows` cells; `pixels`: the text area's size in
    pixels as TIOCGWINSZ reports it (0, 0: unknown, as most terminals say)."""
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl, struct, termios
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, pixels[0], pixels[1]))
        os.execvpe(argv[0], argv, env)
    import fcntl, struct, termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, pixels[0], pixels[1]))
    return pid, fd

def drain(fd, quiet=0.25, limit=30.0, timed=False):
    """Reads until nothing came for `quiet` seconds (or the end); returns the bytes, and with
    `timed` also the `time.perf_counter()` of the last byte (None if none came)."""
    out = bytearray()
    last = None
    end = time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], quiet)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        last = time.perf_counter()
    return (bytes(out), last) if timed else bytes(out)

@contextlib.contextmanager
def running(argv, env, setup, settle, pixels=(0, 0)):
    """The program in a pseudo-terminal, its first frames read (`settle`: quiet seconds that end
    them) and the `setup` keys sent (each with the quiet seconds that end its answer); stopped
    with SIGTERM afterwards. Yields the terminal's file descriptor."""
    pid, fd = spawn(argv, env, pixels=pixels)
    try:
        drain(fd, quiet=settle, limit=120)          # the first frames, the index opening
        for k, wait in setup:
            os.write(fd, k)
            drain(fd, quiet=wait, limit=120)
        yield fd
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            drain(fd, quiet=0.5, limit=3)
        except Exception:
            pass
        os.waitpid(pid, 0)

def measure(argv, env, setup, key, n, settle=8.0, quiet=0.25):
    """Bytes written for each of `n` presses of `key`, one at a time."""
    with running(argv, env, setup, settle) as fd:
        sizes = []
        for _ in range(n):
            os.write(fd, key)
            sizes.append(len(drain(fd, quiet=quiet)))
        return sizes

def held(argv, env, setup, key, rate=30, seconds=2.0, settle=8.0, pixels=(0, 0)):
    """A key held down: `rate` presses a second for `seconds`. Returns the bytes per press while
    it is held and the bytes written after the last press (the picture once the selection rests)."""
    with running(argv, env, setup, settle, pixels=pixels) as fd:
        presses = int(rate * seconds)
        during = 0
        for _ in range(presses):
            os.write(fd, key)
            end = time.time() + 1.0 / rate
            while True:
                left = end - time.time()
                if left <= 0:
                    break
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    during += len(os.read(fd, 65536))
        after = len(drain(fd, quiet=0.5))
        return during / presses, after

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrine", default=os.path.join(repo, ".build/release/vitrine"))
    ap.add_argument("--data", default=os.path.join(repo, "SampleData"))
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--vd", help="VisiData's executable (default: vd on PATH)")
    a = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "TMUX")}
    base.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TERM="xterm-256color")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; 120x40; median bytes per key over {a.keys} keys")
    rows = []
    gallery = os.path.join(a.data, "product1m_gallery_ossurl_v2.txt")
    less = ["less", "-S", gallery]
    rows.append(("less: one line down (j)", measure(less, base, [], b"j", a.keys, settle=1.0)))
    rows.append(("less: page down (space)", measure(less, base, [], b" ", a.keys, settle=1.0)))
    # The other anchors the issue named, when they are installed (`apt-get install htop`,
    # `pip install visidata`; --vd names its executable): they are not part of Vitrine's set-up.
    htop = shutil.which("htop")
    if htop:
        rows.append(("htop: one row down (Down)", measure([htop], base, [], b"\x1b[B", a.keys, settle=2.0)))
    vd = a.vd or shutil.which("vd")
    if vd:
        rows.append(("VisiData: one row down (j)", measure([vd, gallery], base, [], b"j", a.keys, settle=3.0)))
        rows.append(("VisiData: page down (Ctrl-F)", measure([vd, gallery], base, [], b"\x06", a.keys, settle=3.0)))
    vit = [a.vitrine, "explore", "--data", a.data, "--no-mouse"]
    slow = vit + ["--link", "slow"]
    modes = (("256 colours", {}, vit), ("truecolor", {"COLORTERM": "truecolor"}, vit),
             ("256 colours --link slow", {}, slow), ("truecolor --link slow", {"COLORTERM": "truecolor"}, slow))
    for name, extra, argv in modes:
        env = dict(base, **extra)
        rows.append((f"vitrine {name}: browser, one row down (j)", measure(argv, env, [], b"j", a.keys)))
        rows.append((f"vitrine {name}: browser, page down (space)", measure(argv, env, [], b" ", a.keys)))
        rows.append((f"vitrine {name}: results, one row down (j)",
                     measure(argv, env, [(b"\r", 6.0)], b"j", a.keys)))
    holds = []
    holds.append(("less: j held at 30/s for 2 s", held(less, base, [], b"j", settle=1.0)))
    if vd:
        holds.append(("VisiData: j held at 30/s for 2 s", held([vd, gallery], base, [], b"j", settle=3.0)))
    for name, extra, argv in modes:
        env = dict(base, **extra)
        holds.append((f"vitrine {name}: browser, j held at 30/s for 2 s", held(argv, env, [], b"j")))
    width = max(len(r[0]) for r in rows + holds)
    for name, sizes in rows:
        print(f"{name:<{width}}  median {statistics.median(sizes):>8.0f} B   max {max(sizes):>8} B")
    for name, (per, after) in holds:
        print(f"{name:<{width}}  {per:>8.0f} B a press while held, {after:>8} B after the last")

if __name__ == "__main__":
    main()
