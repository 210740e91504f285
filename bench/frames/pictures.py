#!/usr/bin/env python3
"""Pictures in every mode (issue 16): bytes per image and time to draw, next to anchors measured
in the same run.

    python3 bench/frames/pictures.py [--vitrine BIN] [--data DIR] [--images 20] [--keys 10]

1. Per image: `vitrine show --images MODE --size 43x18 --cell-pixels 10x20` (the explorer's
   preview at 120x40) on SampleData photos, for kitty (raw RGB, and PNG as a guest sends it),
   sixel (dithered, and not), iTerm2 and half blocks: the bytes, the encoding time `--stats`
   reports, and the wall time of the whole command. Anchors: `chafa` (Debian's 1.12) in its
   kitty, sixel, iTerm2 and symbols formats at the same cell size, and libsixel's `img2sixel`
   at the same pixel size, when they are installed (`apt-get install chafa libsixel-bin`).
2. In the explorer: `vitrine explore --images MODE` in a pseudo-terminal of 120x40 whose cells
   are 10x20 pixels (TIOCSWINSZ), one key at a time: the bytes written after `j` in the browser
   (the picture drawn once the selection rests) and in the results (thumbnails too), and the
   time from the key to the last byte. Half blocks are the anchor, in the same run.

A benchmark, not a test: it prints figures; nothing passes or fails.
"""
import argparse, glob, os, re, shutil, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bytes_per_key import drain, held, running  # noqa: E402

def run(argv, tty=False):
    """Bytes on standard output, wall seconds and standard error of a command; with `tty`, in a
    pseudo-terminal of 120x40 cells of 10x20 pixels (what chafa sizes its pixels by), its
    standard error then mixed into the output and not returned."""
    t = time.perf_counter()
    if not tty:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.stdout, time.perf_counter() - t, p.stderr.decode("utf-8", "replace")
    from bytes_per_key import spawn
    pid, fd = spawn(argv, dict(os.environ, TERM="xterm-256color"), pixels=(1200, 800))
    data = drain(fd, quiet=30.0, limit=60.0)
    os.waitpid(pid, 0)
    os.close(fd)
    return bytes(data), time.perf_counter() - t, ""

def sixel_pixels(data):
    m = re.search(rb'"\d+;\d+;(\d+);(\d+)', data)
    return (int(m.group(1)), int(m.group(2))) if m else None

def spawn_env(base, extra):
    env = dict(base)
    env.update(extra)
    return env

def key_timing(argv, env, setup, key, n, settle=8.0):
    """For each of `n` presses: bytes written, and seconds from the key to the last byte."""
    out = []
    with running(argv, env, setup, settle, pixels=(1200, 800)) as fd:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, key)
            data, last = drain(fd, quiet=0.4, timed=True)
            out.append((len(data), (last - t0) if last else 0.0))
    return out

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrine", default=os.path.join(repo, ".build/release/vitrine"))
    ap.add_argument("--data", default=os.path.join(repo, "SampleData"))
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--keys", type=int, default=10)
    a = ap.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    simd = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
    print(f"machine: {cpu} ({simd}), {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"load {os.getloadavg()[0]:.1f}")
    photos = sorted(glob.glob(os.path.join(a.data, "images", "*.jpg")))[: a.images]
    size = ["--size", "43x18", "--cell-pixels", "10x20"]
    show = [a.vitrine, "show"] + size + ["--stats"]
    cases = [("vitrine kitty (raw RGB)", show + ["--images", "kitty"], False),
             ("vitrine kitty (PNG, --compact)", show + ["--images", "kitty", "--compact"], False),
             ("vitrine sixel (dithered)", show + ["--images", "sixel"], False),
             ("vitrine sixel (--compact: no dither)", show + ["--images", "sixel", "--compact"], False),
             ("vitrine iTerm2", show + ["--images", "iterm"], False),
             ("vitrine half blocks (256 colours)", show + ["--images", "blocks"], False)]
    chafa = shutil.which("chafa")
    if chafa:
        for fmt, label in (("kitty", "kitty"), ("sixels", "sixel"), ("iterm", "iTerm2"), ("symbols", "symbols")):
            cases.append((f"chafa {label}", [chafa, "-f", fmt, "-s", "43x18", "--animate", "off"], True))
    img2sixel = shutil.which("img2sixel")
    if img2sixel:
        cases.append(("img2sixel (libsixel)", [img2sixel, "-w", "430", "-h", "350"], False))
    print(f"\n1. One picture, 43x18 cells of 10x20 px, {len(photos)} SampleData photos: medians")
    print(f"{'':40} {'bytes':>9} {'pixels':>9} {'encode ms':>10} {'wall ms':>8}")
    for name, argv, tty in cases:
        sizes, walls, encodes, pixels = [], [], [], []
        for photo in photos:
            out, wall, err = run(argv + [photo], tty=tty)
            sizes.append(len(out))
            walls.append(wall * 1000)
            m = re.search(r"encoded in ([0-9.]+) ms", err)
            if m:
                encodes.append(float(m.group(1)))
            px = sixel_pixels(out)
            if px:
                pixels.append(px[0] * px[1])
        enc = f"{statistics.median(encodes):10.1f}" if encodes else f"{'':>10}"
        pix = f"{int(statistics.median(pixels)):9d}" if pixels else f"{'':>9}"
        print(f"{name:40} {int(statistics.median(sizes)):9d} {pix} {enc} {statistics.median(walls):8.1f}")

    print(f"\n2. The explorer, 120x40 cells of 10x20 px (TERM=xterm-256color, COLORTERM=truecolor): "
          f"median over {a.keys} keys")
    base = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "TMUX")}
    base.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TERM="xterm-256color", COLORTERM="truecolor")
    vit = [a.vitrine, "explore", "--data", a.data, "--no-mouse"]
    print(f"{'':52} {'bytes':>9} {'key to last byte':>17}")
    for mode in ("blocks", "kitty", "sixel", "iterm"):
        for where, setup in (("browser j", []), ("results j", [(b"\r", 6.0)])):
            rows = key_timing(vit + ["--images", mode], base, setup, b"j", a.keys)
            print(f"{'vitrine --images ' + mode + ': ' + where:52} {int(statistics.median(r[0] for r in rows)):9d} "
                  f"{statistics.median(r[1] for r in rows) * 1000:14.0f} ms")
    for mode in ("kitty", "sixel"):
        rows = key_timing(vit + ["--images", mode, "--guest", "--no-search"], base, [], b"j", a.keys)
        print(f"{'vitrine --images ' + mode + ' --guest: browser j':52} {int(statistics.median(r[0] for r in rows)):9d} "
              f"{statistics.median(r[1] for r in rows) * 1000:14.0f} ms")
    print("\n   j held at 30 presses a second for 2 s in the browser (issue 14's frame budget):")
    for mode, extra in (("blocks", []), ("kitty", []), ("sixel", []), ("kitty", ["--guest", "--no-search"]),
                        ("sixel", ["--guest", "--no-search"])):
        per, after = held(vit + ["--images", mode] + extra, base, [], b"j", pixels=(1200, 800))
        name = f"vitrine --images {mode}{' --guest' if extra else ''}"
        print(f"{name:52} {per:9.0f} B a press while held, {after:9d} B after the last")

if __name__ == "__main__":
    main()
