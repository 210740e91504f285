#!/usr/bin/env python3
"""Makes the small image fixtures of Tests/ImagingTests that Vitrine's own encoders cannot write.

Run once; the outputs are committed next to this script. To regenerate:

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install pillow
    /tmp/fx/bin/python Tests/ImagingTests/Fixtures/make_fixtures.py

(the outputs were made with Pillow 13.0.0; any recent Pillow gives equivalent files).

Every picture is the same 32 x 24 "quadrant" image (four flat colours: top-left, top-right,
bottom-left, bottom-right; a pixel is "left" when x < width // 2 and "top" when y < height // 2)
so the tests can check colours and orientation. Files:

- JPEG (Pillow/libjpeg): progressive, grayscale, CMYK with Adobe APP14 (inverted CMYK),
  plain CMYK (no Adobe marker, so not inverted), YCCK (Adobe transform 2), and EXIF
  orientations 1...8 (stored pixels transformed so that applying the orientation gives the
  upright quadrant image).
- PNG: written by the small encoder below (not Pillow, which cannot write 16-bit RGB or Adam7):
  every colour type and bit depth, tRNS on grey/RGB/palette, Adam7 interlacing.
- resize_*.png: Pillow's Image.resize(..., Image.BILINEAR) of the pattern image (see
  `pattern` below, reproduced in the Swift tests), for whole-image comparisons.

manifest.json lists every fixture with its size and the four expected quadrant colours after
decoding to RGB (alpha composited over white), both as designed ("expected") and, where Pillow
can decode the file, as Pillow decodes it ("pillow"; JPEG only). The script checks its own PNGs
and JPEGs with Pillow before writing the manifest.
"""
import io
import json
import os
import struct
import sys
import zlib

from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 32, 24

# Quadrant colours: top-left, top-right, bottom-left, bottom-right.
RGB_QUADS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (230, 210, 40)]
ALPHAS = [255, 128, 0, 64]


def quadrant(x, y, w, h):
    return (0 if x < w // 2 else 1) + (0 if y < h // 2 else 2)


def over_white(rgb, a):
    # round((a c + (255 - a) 255) / 255); never a tie (see the Swift decoder's comment).
    return tuple((a * c + (255 - a) * 255 + 127) // 255 for c in rgb)


def quad_image(mode, values, w=W, h=H):
    img = Image.new(mode, (w, h))
    for y in range(h):
        for x in range(w):
            img.putpixel((x, y), values[quadrant(x, y, w, h)])
    return img


def centre_colours(img):
    """RGB at the centre of each quadrant of a decoded image."""
    w, h = img.size
    rgb = img.convert("RGB")
    points = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    return [list(rgb.getpixel(p)) for p in points]


manifest = {"png": [], "jpeg": [], "resize": []}


# ---------------------------------------------------------------- PNG writer

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, w, h, color_type, depth, pixel, palette=None, trns=None, interlace=False):
    """pixel(x, y) -> tuple of samples for the colour type (palette: (index,))."""
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx))
        ys = list(range(y0, h, dy))
        if not xs or not ys:
            continue
        for y in ys:
            samples = [s for x in xs for s in pixel(x, y)]
            raw += b"\x00" + pack_row(samples, depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += png_chunk(b"PLTE", b"".join(bytes(c) for c in palette))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += png_chunk(b"IEND", b"")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    return name


def pillow_rgb_over_white(path):
    img = Image.open(path)
    img.load()
    if img.mode in ("I;16", "I;16B", "I"):  # Pillow keeps 16-bit grey as integers
        img = img.point(lambda v: v / 257).convert("L")
    rgba = img.convert("RGBA")
    w, h = rgba.size
    return [[over_white(rgba.getpixel((x, y))[:3], rgba.getpixel((x, y))[3]) for x in range(w)] for y in range(h)]


def add_png(name, expected_quads, w=W, h=H, **kwargs):
    write_png(name, w, h, **kwargs)
    pixels = pillow_rgb_over_white(os.path.join(HERE, name))
    for y in range(h):
        for x in range(w):
            want = tuple(expected_quads[quadrant(x, y, w, h)])
            if tuple(pixels[y][x]) != want:
                sys.exit(f"{name}: Pillow reads {pixels[y][x]} at ({x},{y}), expected {want}")
    manifest["png"].append({"file": name, "width": w, "height": h, "expected": [list(c) for c in expected_quads]})


def grey_levels(depth):
    top = (1 << depth) - 1
    if depth == 1:
        return [0, 1, 1, 0]
    return [0, top // 3, 2 * top // 3, top]


def scaled(v, depth):
    return v * 255 // ((1 << depth) - 1)


def make_pngs():
    for interlace in (False, True):
        suffix = "_interlaced" if interlace else ""
        for depth in (1, 2, 4, 8, 16):
            levels = grey_levels(depth)
            expected = [(scaled(v, depth),) * 3 for v in levels]
            add_png(f"gray{depth}{suffix}.png", expected, color_type=0, depth=depth, interlace=interlace,
                    pixel=lambda x, y, l=levels: (l[quadrant(x, y, W, H)],))
        # Grey with a tRNS colour key: the bottom-left level becomes transparent (white).
        levels = [10, 90, 170, 250]
        expected = [(v,) * 3 for v in levels]
        expected[2] = (255, 255, 255)
        add_png(f"gray8_trns{suffix}.png", expected, color_type=0, depth=8, interlace=interlace,
                trns=struct.pack(">H", 170), pixel=lambda x, y: (levels[quadrant(x, y, W, H)],))
        for depth in (8, 16):
            unit = 257 if depth == 16 else 1
            greys = [40, 100, 160, 220]
            expected = [over_white((g, g, g), a) for g, a in zip(greys, ALPHAS)]
            add_png(f"gray_alpha{depth}{suffix}.png", expected, color_type=4, depth=depth, interlace=interlace,
                    pixel=lambda x, y, u=unit: (greys[quadrant(x, y, W, H)] * u, ALPHAS[quadrant(x, y, W, H)] * u))
            add_png(f"rgb{depth}{suffix}.png", RGB_QUADS, color_type=2, depth=depth, interlace=interlace,
                    pixel=lambda x, y, u=unit: tuple(c * u for c in RGB_QUADS[quadrant(x, y, W, H)]))
            expected = [over_white(c, a) for c, a in zip(RGB_QUADS, ALPHAS)]
            add_png(f"rgba{depth}{suffix}.png", expected, color_type=6, depth=depth, interlace=interlace,
                    pixel=lambda x, y, u=unit: tuple(c * u for c in RGB_QUADS[quadrant(x, y, W, H)])
                    + (ALPHAS[quadrant(x, y, W, H)] * u,))
        # RGB with a tRNS colour key (16-bit key for the 8-bit image, as the spec says).
        expected = list(RGB_QUADS)
        expected[1] = (255, 255, 255)
        add_png(f"rgb8_trns{suffix}.png", expected, color_type=2, depth=8, interlace=interlace,
                trns=struct.pack(">HHH", *RGB_QUADS[1]), pixel=lambda x, y: RGB_QUADS[quadrant(x, y, W, H)])
        # Palettes of every depth; 1-bit holds two colours (top-left/bottom-right, the others).
        for depth in (1, 2, 4, 8):
            if depth == 1:
                palette, index = [RGB_QUADS[0], RGB_QUADS[1]], [0, 1, 1, 0]
            else:
                palette, index = RGB_QUADS + [(1, 2, 3)] * (3 if depth >= 4 else 0), [0, 1, 2, 3]
            expected = [palette[i] for i in index]
            add_png(f"palette{depth}{suffix}.png", expected, color_type=3, depth=depth, interlace=interlace,
                    palette=palette, pixel=lambda x, y, ix=index: (ix[quadrant(x, y, W, H)],))
        # Palette with per-entry alpha (tRNS).
        expected = [over_white(c, a) for c, a in zip(RGB_QUADS, ALPHAS)]
        add_png(f"palette4_trns{suffix}.png", expected, color_type=3, depth=4, interlace=interlace,
                palette=RGB_QUADS, trns=bytes(ALPHAS), pixel=lambda x, y: (quadrant(x, y, W, H),))
    # Odd sizes exercise partial Adam7 passes (13 x 11) and single-pixel images.
    add_png("rgba8_interlaced_13x11.png", [over_white(c, a) for c, a in zip(RGB_QUADS, ALPHAS)], w=13, h=11,
            color_type=6, depth=8, interlace=True,
            pixel=lambda x, y: RGB_QUADS[quadrant(x, y, 13, 11)] + (ALPHAS[quadrant(x, y, 13, 11)],))
    add_png("gray1_interlaced_1x1.png", [(255, 255, 255)] * 4, w=1, h=1, color_type=0, depth=1, interlace=True,
            pixel=lambda x, y: (1,))


# ---------------------------------------------------------------- JPEG

def save_jpeg(img, name, **kwargs):
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=95, **kwargs)
    return buffer.getvalue()


def segments(data):
    """(marker, start, end) of each marker segment before the first SOS."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((marker, pos, pos + 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def adobe_segment(data):
    for marker, start, end in segments(data):
        if marker == 0xEE and data[start + 4:start + 9] == b"Adobe":
            return start, end
    return None


def add_jpeg(name, data, expected, w=W, h=H, pillow_can_read=True):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    entry = {"file": name, "width": w, "height": h, "expected": [list(c) for c in expected]}
    if pillow_can_read:
        img = ImageOps.exif_transpose(Image.open(path))
        if img.size != (w, h):
            sys.exit(f"{name}: Pillow gives {img.size}, expected {(w, h)}")
        entry["pillow"] = centre_colours(img)
        for got, want in zip(entry["pillow"], expected):
            if max(abs(a - b) for a, b in zip(got, want)) > 16:
                sys.exit(f"{name}: Pillow reads {got}, expected about {want}")
    manifest["jpeg"].append(entry)


def cmyk_to_rgb(c, m, y, k):
    return tuple((255 - v) * (255 - k) // 255 for v in (c, m, y))


def make_jpegs():
    rgb = quad_image("RGB", RGB_QUADS)
    add_jpeg("progressive.jpg", save_jpeg(rgb, "progressive", progressive=True), RGB_QUADS)
    add_jpeg("baseline_pillow.jpg", save_jpeg(rgb, "baseline"), RGB_QUADS)
    greys = [40, 100, 160, 220]
    add_jpeg("gray.jpg", save_jpeg(quad_image("L", greys), "gray"), [(g, g, g) for g in greys])

    inks = [(0, 200, 200, 30), (200, 0, 200, 30), (200, 200, 0, 30), (0, 0, 60, 120)]
    cmyk_expected = [cmyk_to_rgb(*ink) for ink in inks]
    # Pillow writes CMYK the Adobe way: inverted samples and an APP14 "Adobe" marker.
    adobe = save_jpeg(quad_image("CMYK", inks), "cmyk")
    start, _ = adobe_segment(adobe)
    assert adobe[start + 15] == 0, "expected Adobe transform 0 (no colour transform) for CMYK"
    add_jpeg("cmyk_adobe.jpg", adobe, cmyk_expected)

    # Plain (non-inverted) CMYK: store the complement through Pillow's inversion, then drop APP14.
    inverted = save_jpeg(quad_image("CMYK", [tuple(255 - v for v in ink) for ink in inks]), "cmyk-plain")
    start, end = adobe_segment(inverted)
    plain = inverted[:start] + inverted[end:]
    add_jpeg("cmyk_plain.jpg", plain, cmyk_expected, pillow_can_read=False)  # Pillow assumes Adobe

    # YCCK: libjpeg decodes components (Y, Cb, Cr, K) to CMYK' = 255 - RGB(Y, Cb, Cr), K' = K, in
    # Adobe's inverted convention. For inks (c, m, y, k) store YCbCr(c, m, y) and K = 255 - k.
    def ycc(r, g, b):
        y = 0.299 * r + 0.587 * g + 0.114 * b
        cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
        cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
        return tuple(max(0, min(255, int(round(v)))) for v in (y, cb, cr))

    stored = [ycc(c, m, y) + (255 - k,) for c, m, y, k in inks]
    # Pillow inverts CMYK samples on the way out, so hand it the complements.
    ycck = bytearray(save_jpeg(quad_image("CMYK", [tuple(255 - v for v in s) for s in stored]), "ycck"))
    start, _ = adobe_segment(bytes(ycck))
    ycck[start + 15] = 2  # Adobe transform 2: YCCK
    add_jpeg("ycck.jpg", bytes(ycck), cmyk_expected)

    # EXIF orientation: store the inverse transform of the upright image.
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}
    for orientation in range(1, 9):
        stored_img = rgb if inverse[orientation] is None else rgb.transpose(inverse[orientation])
        exif = Image.Exif()
        exif[0x0112] = orientation
        add_jpeg(f"orientation{orientation}.jpg", save_jpeg(stored_img, "o", exif=exif.tobytes()), RGB_QUADS)


# ---------------------------------------------------------------- resize references

def pattern(w, h):
    """Deterministic test pattern, reproduced in ResizeTests.swift."""
    img = Image.new("RGB", (w, h))
    for y in range(h):
        for x in range(w):
            img.putpixel((x, y), ((x * 255) // max(1, w - 1), 255 * (((x // 3) + (y // 2)) % 2), (x * y * 7) % 256))
    return img


def make_resize_references():
    cases = [((61, 47), (17, 13)), ((61, 47), (40, 47)), ((61, 47), (61, 20)), ((61, 47), (150, 101))]
    samples = [(0, 0), (1, 1), (5, 3), (8, 6), (16, 12), (10, 0)]
    for (sw, sh), (dw, dh) in cases:
        out = pattern(sw, sh).resize((dw, dh), Image.BILINEAR)
        name = f"resize_{sw}x{sh}_to_{dw}x{dh}.png"
        out.save(os.path.join(HERE, name), optimize=True)
        picked = [[x, y, list(out.getpixel((x, y)))] for x, y in samples if x < dw and y < dh]
        manifest["resize"].append({"file": name, "source": [sw, sh], "size": [dw, dh], "samples": picked})
        print(f"PIL BILINEAR {sw}x{sh} -> {dw}x{dh}: {picked}")


if __name__ == "__main__":
    make_pngs()
    make_jpegs()
    make_resize_references()
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest['png'])} PNG, {len(manifest['jpeg'])} JPEG and {len(manifest['resize'])} resize fixtures")
