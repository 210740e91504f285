/* JPEG decoding and encoding with libjpeg(-turbo). All longjmps end in this file. */
#include "internal.h"

#include <jerror.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* MARK: error handling */

static void vic_jpeg_error_exit(j_common_ptr cinfo) {
    vic_jpeg_error *error = (vic_jpeg_error *)cinfo->err;
    if (error->status == VIC_OK) {
        switch (error->pub.msg_code) {
        case JERR_IMAGE_TOO_BIG:
        case JERR_NO_BACKING_STORE: /* our memory cap (max_memory_to_use) was reached */
            error->status = VIC_E_TOO_LARGE;
            break;
        case JERR_OUT_OF_MEMORY:
            error->status = VIC_E_NO_MEMORY;
            break;
        case JERR_BAD_PRECISION:
        case JERR_SOF_UNSUPPORTED:
        case JERR_ARITH_NOTIMPL:
        case JERR_NOT_COMPILED:
        case JERR_CONVERSION_NOTIMPL:
            error->status = VIC_E_UNSUPPORTED;
            break;
        case JERR_NO_SOI:
            error->status = VIC_E_NOT_IMAGE;
            break;
        case JERR_INPUT_EMPTY:
        case JERR_INPUT_EOF:
            error->status = VIC_E_TRUNCATED;
            break;
        default:
            error->status = VIC_E_CORRUPT;
            break;
        }
        (*cinfo->err->format_message)(cinfo, error->message);
    }
    longjmp(error->jump, 1);
}

/* Aborts the current libjpeg call with our own status and message. */
static void vic_jpeg_fail(j_common_ptr cinfo, vic_status status, const char *message) {
    vic_jpeg_error *error = (vic_jpeg_error *)cinfo->err;
    error->status = status;
    snprintf(error->message, sizeof error->message, "%s", message);
    longjmp(error->jump, 1);
}

/* Warnings (level -1) that mean the pixels would be wrong become errors; trace messages and
 * harmless warnings are dropped (libjpeg's default prints them to stderr). */
static void vic_jpeg_emit_message(j_common_ptr cinfo, int level) {
    vic_jpeg_error *error = (vic_jpeg_error *)cinfo->err;
    if (level >= 0) return;
    switch (error->pub.msg_code) {
    case JWRN_JPEG_EOF:
        vic_jpeg_fail(cinfo, VIC_E_TRUNCATED, "the file ends before the image data is complete");
        break;
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        vic_jpeg_fail(cinfo, VIC_E_CORRUPT, text);
        break;
    }
    default:
        error->pub.num_warnings++;
        break;
    }
}

static void vic_jpeg_install_error_handler(j_common_ptr cinfo, vic_jpeg_error *error) {
    cinfo->err = jpeg_std_error(&error->pub);
    error->pub.error_exit = vic_jpeg_error_exit;
    error->pub.emit_message = vic_jpeg_emit_message;
    error->status = VIC_OK;
    error->message[0] = '\0';
}

/* Called by libjpeg while it absorbs a multi-scan file: bounds the work a crafted progressive
 * JPEG with thousands of tiny scans could cause. */
static void vic_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (dinfo->input_scan_number > VIC_MAX_JPEG_SCANS) {
        char text[96];
        snprintf(text, sizeof text, "more than %d scans in a progressive JPEG", VIC_MAX_JPEG_SCANS);
        vic_jpeg_fail(cinfo, VIC_E_CORRUPT, text);
    }
}

/* MARK: EXIF orientation */

static unsigned vic_read16(const uint8_t *p, int little_endian) {
    return little_endian ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t vic_read32(const uint8_t *p, int little_endian) {
    return little_endian
        ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
        : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The Orientation tag (0x0112) of IFD0 in the first EXIF APP1 segment; 1 when absent or invalid. */
static int vic_exif_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1 || marker->data_length < 6 + 8) continue;
        if (memcmp(marker->data, "Exif\0\0", 6) != 0) continue;
        const uint8_t *tiff = marker->data + 6;
        size_t size = marker->data_length - 6;
        int little_endian;
        if (tiff[0] == 'I' && tiff[1] == 'I') little_endian = 1;
        else if (tiff[0] == 'M' && tiff[1] == 'M') little_endian = 0;
        else return 1;
        if (vic_read16(tiff + 2, little_endian) != 42) return 1;
        uint32_t ifd = vic_read32(tiff + 4, little_endian);
        if (ifd < 8 || (size_t)ifd > size - 2) return 1;
        unsigned count = vic_read16(tiff + ifd, little_endian);
        for (unsigned i = 0; i < count; i++) {
            size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
            if (entry + 12 > size) return 1;
            if (vic_read16(tiff + entry, little_endian) != 0x0112) continue;
            unsigned type = vic_read16(tiff + entry + 2, little_endian);
            uint32_t value;
            if (type == 3) value = vic_read16(tiff + entry + 8, little_endian);      /* SHORT */
            else if (type == 4) value = vic_read32(tiff + entry + 8, little_endian); /* LONG */
            else return 1;
            return value >= 1 && value <= 8 ? (int)value : 1;
        }
        return 1;
    }
    return 1;
}

/* MARK: decoding */

vic_status vic_jpeg_open(vic_decoder *d, int64_t max_pixels, int32_t min_side, char *message, size_t capacity) {
    struct jpeg_decompress_struct *cinfo = &d->jpeg;
    vic_jpeg_install_error_handler((j_common_ptr)cinfo, &d->jpeg_error);
    if (setjmp(d->jpeg_error.jump)) {
        vic_set_message(message, capacity, "%s", d->jpeg_error.message);
        /* libjpeg refuses sides above 65,500 inside jpeg_read_header: report the declared size. */
        d->info.stored_width = (int32_t)cinfo->image_width;
        d->info.stored_height = (int32_t)cinfo->image_height;
        return d->jpeg_error.status;
    }
    d->jpeg_created = 1; /* the struct is zeroed, so destroying it is safe even if creation fails */
    jpeg_create_decompress(cinfo);
    cinfo->client_data = d;
    d->jpeg_progress.progress_monitor = vic_jpeg_progress;
    cinfo->progress = &d->jpeg_progress;
    jpeg_mem_src(cinfo, d->data, (unsigned long)d->length);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);

    int64_t width = cinfo->image_width, height = cinfo->image_height;
    d->info.stored_width = (int32_t)width;
    d->info.stored_height = (int32_t)height;
    if (vic_exceeds_pixel_limit((uint64_t)width, (uint64_t)height, max_pixels)) {
        vic_set_message(message, capacity, "%lldx%lld pixels declared, the limit is %lld",
                        (long long)width, (long long)height, (long long)max_pixels);
        return VIC_E_TOO_LARGE;
    }

    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
        d->jpeg_cmyk = 1;
        d->jpeg_inverted = cinfo->saw_Adobe_marker ? 1 : 0;
        break;
    default:
        vic_set_message(message, capacity, "unsupported colour space (%d components)", cinfo->num_components);
        return VIC_E_UNSUPPORTED;
    }
    cinfo->dct_method = JDCT_ISLOW;

    if (max_pixels > 0) {
        /* Multi-scan files keep every DCT coefficient in memory (2 bytes per sample and
         * component, plus block padding); cap libjpeg's memory just above that. */
        int64_t bound = (width + 64) * (height + 64) * 2 * (int64_t)cinfo->num_components + ((int64_t)64 << 20);
        if (bound < (int64_t)LONG_MAX) cinfo->mem->max_memory_to_use = (long)bound;
    }

    d->info.orientation = vic_exif_orientation(cinfo);

    cinfo->scale_num = 8;
    cinfo->scale_denom = 8;
    jpeg_calc_output_dimensions(cinfo);
    int64_t longest = width > height ? width : height;
    if (min_side > 0 && longest > min_side) {
        for (unsigned num = 1; num <= 8; num++) {
            cinfo->scale_num = num;
            jpeg_calc_output_dimensions(cinfo);
            JDIMENSION out_longest = cinfo->output_width > cinfo->output_height ? cinfo->output_width : cinfo->output_height;
            if ((int64_t)out_longest >= min_side) break;
        }
    }
    int32_t out_width = (int32_t)cinfo->output_width, out_height = (int32_t)cinfo->output_height;
    int transposed = d->info.orientation >= 5;
    d->info.width = transposed ? out_height : out_width;
    d->info.height = transposed ? out_width : out_height;
    return VIC_OK;
}

/* Writes one decoded row (stored row `y` of a width x height image) into the upright output. */
static void vic_place_row(const uint8_t *row, uint32_t y, uint32_t width, uint32_t height,
                          int orientation, uint8_t *out) {
    ptrdiff_t base, step; /* in pixels */
    ptrdiff_t w = width, h = height, yy = y;
    switch (orientation) {
    case 2: base = yy * w + w - 1; step = -1; break;                 /* mirror horizontally */
    case 3: base = (h - 1 - yy) * w + w - 1; step = -1; break;       /* rotate 180 */
    case 4: base = (h - 1 - yy) * w; step = 1; break;                /* mirror vertically */
    case 5: base = yy; step = h; break;                              /* transpose */
    case 6: base = h - 1 - yy; step = h; break;                      /* rotate 90 clockwise */
    case 7: base = (w - 1) * h + (h - 1 - yy); step = -h; break;     /* transverse */
    case 8: base = (w - 1) * h + yy; step = -h; break;               /* rotate 90 counter-clockwise */
    default: memcpy(out + (size_t)yy * (size_t)w * 3, row, (size_t)w * 3); return;
    }
    uint8_t *p = out + base * 3;
    for (ptrdiff_t x = 0; x < w; x++, p += step * 3) {
        p[0] = row[x * 3];
        p[1] = row[x * 3 + 1];
        p[2] = row[x * 3 + 2];
    }
}

/* CMYK (as libjpeg returns it, also for YCCK) to RGB, in place-safe order (out may alias in). */
static void vic_cmyk_to_rgb(const uint8_t *in, uint8_t *out, uint32_t width, int inverted) {
    for (uint32_t x = 0; x < width; x++) {
        unsigned c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        /* inverted (Adobe) data holds 255 - ink, so R = (255 - C)(255 - K) / 255 = c * k / 255 */
        out[3 * x] = vic_mul255(c, k);
        out[3 * x + 1] = vic_mul255(m, k);
        out[3 * x + 2] = vic_mul255(y, k);
    }
}

vic_status vic_jpeg_read(vic_decoder *d, uint8_t *rgb, char *message, size_t capacity) {
    struct jpeg_decompress_struct *cinfo = &d->jpeg;
    if (setjmp(d->jpeg_error.jump)) {
        vic_set_message(message, capacity, "%s", d->jpeg_error.message);
        return d->jpeg_error.status;
    }
    jpeg_start_decompress(cinfo);
    uint32_t width = cinfo->output_width, height = cinfo->output_height;
    int components = cinfo->output_components;
    int orientation = d->info.orientation;
    int transposed = orientation >= 5;
    if ((int32_t)(transposed ? height : width) != d->info.width ||
        (int32_t)(transposed ? width : height) != d->info.height ||
        components != (d->jpeg_cmyk ? 4 : 3)) {
        vic_jpeg_fail((j_common_ptr)cinfo, VIC_E_CORRUPT, "output size changed after the header was read");
    }
    enum { batch = 16 };
    JSAMPROW rows[batch];
    if (!d->jpeg_cmyk && orientation == 1) {
        while (cinfo->output_scanline < height) {
            uint32_t first = cinfo->output_scanline;
            uint32_t count = height - first < batch ? height - first : batch;
            for (uint32_t i = 0; i < count; i++) rows[i] = rgb + (size_t)(first + i) * width * 3;
            jpeg_read_scanlines(cinfo, rows, count);
        }
    } else {
        size_t row_bytes = (size_t)width * (size_t)components;
        d->scratch = malloc(row_bytes * batch);
        if (d->scratch == NULL) vic_jpeg_fail((j_common_ptr)cinfo, VIC_E_NO_MEMORY, "out of memory");
        for (int i = 0; i < batch; i++) rows[i] = d->scratch + row_bytes * (size_t)i;
        while (cinfo->output_scanline < height) {
            uint32_t first = cinfo->output_scanline;
            uint32_t count = height - first < batch ? height - first : batch;
            JDIMENSION got = jpeg_read_scanlines(cinfo, rows, count);
            for (JDIMENSION i = 0; i < got; i++) {
                if (d->jpeg_cmyk) vic_cmyk_to_rgb(rows[i], rows[i], width, d->jpeg_inverted);
                vic_place_row(rows[i], first + i, width, height, orientation, rgb);
            }
        }
    }
    jpeg_finish_decompress(cinfo);
    return VIC_OK;
}

void vic_jpeg_close(vic_decoder *d) {
    if (!d->jpeg_created) return;
    /* jpeg_destroy never raises errors, but keep a landing pad in case the manager is asked to. */
    if (setjmp(d->jpeg_error.jump)) return;
    jpeg_destroy_decompress(&d->jpeg);
    d->jpeg_created = 0;
}

/* MARK: encoding */

typedef struct {
    struct jpeg_destination_mgr pub;
    uint8_t *buffer;
    size_t capacity;
    size_t length;
} vic_jpeg_destination;

typedef struct {
    struct jpeg_compress_struct cinfo;
    vic_jpeg_error error;
    vic_jpeg_destination destination;
    int created;
} vic_jpeg_encoder;

static void vic_destination_init(j_compress_ptr cinfo) {
    vic_jpeg_destination *dest = (vic_jpeg_destination *)cinfo->dest;
    dest->capacity = 1 << 16;
    dest->buffer = malloc(dest->capacity);
    if (dest->buffer == NULL) vic_jpeg_fail((j_common_ptr)cinfo, VIC_E_NO_MEMORY, "out of memory");
    dest->pub.next_output_byte = dest->buffer;
    dest->pub.free_in_buffer = dest->capacity;
}

static boolean vic_destination_empty(j_compress_ptr cinfo) {
    /* Called when the whole buffer is full. */
    vic_jpeg_destination *dest = (vic_jpeg_destination *)cinfo->dest;
    size_t grown = dest->capacity * 2;
    uint8_t *buffer = realloc(dest->buffer, grown);
    if (buffer == NULL) vic_jpeg_fail((j_common_ptr)cinfo, VIC_E_NO_MEMORY, "out of memory");
    dest->buffer = buffer;
    dest->pub.next_output_byte = buffer + dest->capacity;
    dest->pub.free_in_buffer = grown - dest->capacity;
    dest->capacity = grown;
    return TRUE;
}

static void vic_destination_term(j_compress_ptr cinfo) {
    vic_jpeg_destination *dest = (vic_jpeg_destination *)cinfo->dest;
    dest->length = dest->capacity - dest->pub.free_in_buffer;
}

vic_status vic_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality,
                           uint8_t **out_data, size_t *out_length,
                           char *message, size_t message_capacity) {
    if (message != NULL && message_capacity > 0) message[0] = '\0';
    if (rgb == NULL || out_data == NULL || out_length == NULL) {
        vic_set_message(message, message_capacity, "invalid arguments to vic_jpeg_encode");
        return VIC_E_INVALID_ARGUMENT;
    }
    *out_data = NULL;
    *out_length = 0;
    if (width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        vic_set_message(message, message_capacity, "JPEG cannot hold a %dx%d image (1...%d pixels a side)",
                        (int)width, (int)height, (int)JPEG_MAX_DIMENSION);
        return VIC_E_INVALID_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        vic_set_message(message, message_capacity, "JPEG quality %d is outside 1...100", (int)quality);
        return VIC_E_INVALID_ARGUMENT;
    }
    /* Everything libjpeg touches lives on the heap behind a pointer that is set before setjmp
     * and never changed, so it is intact after a longjmp. */
    vic_jpeg_encoder *const e = calloc(1, sizeof *e);
    if (e == NULL) {
        vic_set_message(message, message_capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    j_compress_ptr cinfo = &e->cinfo;
    vic_jpeg_install_error_handler((j_common_ptr)cinfo, &e->error);
    if (setjmp(e->error.jump)) {
        vic_status status = e->error.status;
        vic_set_message(message, message_capacity, "%s", e->error.message);
        if (e->created) jpeg_destroy_compress(&e->cinfo);
        free(e->destination.buffer);
        free(e);
        return status;
    }
    e->created = 1;
    jpeg_create_compress(cinfo);
    e->destination.pub.init_destination = vic_destination_init;
    e->destination.pub.empty_output_buffer = vic_destination_empty;
    e->destination.pub.term_destination = vic_destination_term;
    cinfo->dest = &e->destination.pub;
    cinfo->image_width = (JDIMENSION)width;
    cinfo->image_height = (JDIMENSION)height;
    cinfo->input_components = 3;
    cinfo->in_color_space = JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE); /* TRUE: 8-bit quantisers, i.e. baseline */
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->optimize_coding = FALSE;
    cinfo->comp_info[0].h_samp_factor = 2; /* 4:2:0 */
    cinfo->comp_info[0].v_samp_factor = 2;
    cinfo->comp_info[1].h_samp_factor = 1;
    cinfo->comp_info[1].v_samp_factor = 1;
    cinfo->comp_info[2].h_samp_factor = 1;
    cinfo->comp_info[2].v_samp_factor = 1;
    jpeg_start_compress(cinfo, TRUE);
    enum { batch = 16 };
    JSAMPROW rows[batch];
    while (cinfo->next_scanline < cinfo->image_height) {
        JDIMENSION first = cinfo->next_scanline;
        JDIMENSION count = cinfo->image_height - first < batch ? cinfo->image_height - first : batch;
        for (JDIMENSION i = 0; i < count; i++) {
            rows[i] = (JSAMPROW)(uintptr_t)(rgb + (size_t)(first + i) * (size_t)width * 3); /* read only */
        }
        jpeg_write_scanlines(cinfo, rows, count);
    }
    jpeg_finish_compress(cinfo);
    jpeg_destroy_compress(cinfo);
    *out_data = e->destination.buffer;
    *out_length = e->destination.length;
    free(e);
    return VIC_OK;
}
