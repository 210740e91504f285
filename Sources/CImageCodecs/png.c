/* PNG decoding and encoding with libpng. All longjmps end in this file. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* MARK: decoding */

static void vic_png_error_handler(png_structp png, png_const_charp text) {
    vic_decoder *d = png_get_error_ptr(png);
    if (d->png_message[0] == '\0') snprintf(d->png_message, sizeof d->png_message, "%s", text);
    png_longjmp(png, 1);
}

static void vic_png_warning_handler(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; /* warnings (bad ancillary chunks, sRGB profile notes...) do not change the pixels */
}

static void vic_png_read_data(png_structp png, png_bytep out, size_t count) {
    vic_decoder *d = png_get_io_ptr(png);
    if (count > d->length - d->png_position) {
        d->png_truncated = 1;
        png_error(png, "the file ends before the image data is complete");
    }
    memcpy(out, d->data + d->png_position, count);
    d->png_position += count;
}

/* The status for a libpng failure: truncated if our reader ran dry, otherwise by message. */
static vic_status vic_png_failure(vic_decoder *d, char *message, size_t capacity) {
    vic_set_message(message, capacity, "%s", d->png_message);
    if (d->png_truncated) return VIC_E_TRUNCATED;
    if (strstr(d->png_message, "memory") != NULL) return VIC_E_NO_MEMORY;
    if (strstr(d->png_message, "exceeds user limit") != NULL) return VIC_E_TOO_LARGE;
    return VIC_E_CORRUPT;
}

static uint32_t vic_read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

vic_status vic_png_open(vic_decoder *d, int64_t max_pixels, char *message, size_t capacity) {
    /* Look at IHDR ourselves first, so an oversized image is reported with its declared size
     * before libpng allocates anything for it. */
    if (d->length >= 24 && memcmp(d->data + 12, "IHDR", 4) == 0) {
        uint32_t width = vic_read_be32(d->data + 16), height = vic_read_be32(d->data + 20);
        if (width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX) {
            vic_set_message(message, capacity, "IHDR declares an invalid size %ux%u (at most 2^31-1 a side)",
                            (unsigned)width, (unsigned)height);
            return VIC_E_CORRUPT;
        }
        d->info.stored_width = (int32_t)width;
        d->info.stored_height = (int32_t)height;
        if (vic_exceeds_pixel_limit(width, height, max_pixels)) {
            vic_set_message(message, capacity, "%lldx%lld pixels declared, the limit is %lld",
                            (long long)width, (long long)height, (long long)max_pixels);
            return VIC_E_TOO_LARGE;
        }
    }

    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, vic_png_error_handler, vic_png_warning_handler);
    if (d->png == NULL) {
        vic_set_message(message, capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    d->png_info = png_create_info_struct(d->png);
    if (d->png_info == NULL) {
        vic_set_message(message, capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(d->png))) return vic_png_failure(d, message, capacity);

    png_set_read_fn(d->png, d, vic_png_read_data);
    png_uint_32 side_limit = PNG_UINT_31_MAX;
    if (max_pixels > 0 && max_pixels < (int64_t)PNG_UINT_31_MAX) side_limit = (png_uint_32)max_pixels;
    png_set_user_limits(d->png, side_limit, side_limit);
    png_set_chunk_cache_max(d->png, 256);       /* stored unknown/sPLT chunks */
    png_set_chunk_malloc_max(d->png, 8u << 20); /* any single chunk, decompressed */
    /* Skip metadata we never use; besides saving time this avoids decompressing text/ICC blobs. */
    static const png_byte ignored[] =
        "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0tIME\0pCAL\0sCAL\0hIST\0eXIf\0oFFs\0pHYs\0bKGD\0sBIT\0gAMA\0cHRM\0sRGB";
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, ignored, (int)(sizeof ignored / 5));

    png_read_info(d->png, d->png_info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(d->png, d->png_info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    d->info.stored_width = (int32_t)width;
    d->info.stored_height = (int32_t)height;
    if (vic_exceeds_pixel_limit(width, height, max_pixels)) {
        vic_set_message(message, capacity, "%ux%u pixels declared, the limit is %lld",
                        (unsigned)width, (unsigned)height, (long long)max_pixels);
        return VIC_E_TOO_LARGE;
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE || bit_depth < 8 || png_get_valid(d->png, d->png_info, PNG_INFO_tRNS)) {
        png_set_expand(d->png); /* palette -> RGB, 1/2/4-bit grey -> 8, tRNS -> alpha */
    }
    if (bit_depth == 16) png_set_scale_16(d->png); /* v * 255 / 65535, rounded */
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(d->png);
    d->png_passes = png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->png_info);

    d->png_channels = png_get_channels(d->png, d->png_info);
    if (png_get_bit_depth(d->png, d->png_info) != 8 || (d->png_channels != 3 && d->png_channels != 4) ||
        png_get_rowbytes(d->png, d->png_info) != (size_t)width * (size_t)d->png_channels) {
        vic_set_message(message, capacity, "unexpected pixel layout after conversion (colour type %d, %d bits)",
                        color_type, bit_depth);
        return VIC_E_UNSUPPORTED;
    }
    d->info.width = (int32_t)width;
    d->info.height = (int32_t)height;
    return VIC_OK;
}

/* RGBA over a white background: c' = (a c + (255 - a) 255) / 255, rounded, which equals
 * round(a c / 255) + (255 - a) and never exceeds 255 because round(a c / 255) <= a. */
static void vic_composite_over_white(const uint8_t *rgba, uint8_t *rgb, size_t pixels) {
    for (size_t i = 0; i < pixels; i++) {
        unsigned a = rgba[4 * i + 3], background = 255 - a;
        rgb[3 * i] = (uint8_t)(vic_mul255(rgba[4 * i], a) + background);
        rgb[3 * i + 1] = (uint8_t)(vic_mul255(rgba[4 * i + 1], a) + background);
        rgb[3 * i + 2] = (uint8_t)(vic_mul255(rgba[4 * i + 2], a) + background);
    }
}

vic_status vic_png_read(vic_decoder *d, uint8_t *rgb, char *message, size_t capacity) {
    if (setjmp(png_jmpbuf(d->png))) return vic_png_failure(d, message, capacity);
    size_t width = (size_t)d->info.width, height = (size_t)d->info.height;
    if (d->png_channels == 3) {
        for (int pass = 0; pass < d->png_passes; pass++) {
            for (size_t y = 0; y < height; y++) png_read_row(d->png, rgb + y * width * 3, NULL);
        }
    } else if (d->png_passes == 1) {
        d->scratch = malloc(width * 4);
        if (d->scratch == NULL) png_error(d->png, "out of memory");
        for (size_t y = 0; y < height; y++) {
            png_read_row(d->png, d->scratch, NULL);
            vic_composite_over_white(d->scratch, rgb + y * width * 3, width);
        }
    } else {
        /* Interlaced with alpha: later passes fill in earlier rows, so keep the whole RGBA image. */
        d->scratch = malloc(width * height * 4);
        if (d->scratch == NULL) png_error(d->png, "out of memory");
        for (int pass = 0; pass < d->png_passes; pass++) {
            for (size_t y = 0; y < height; y++) png_read_row(d->png, d->scratch + y * width * 4, NULL);
        }
        vic_composite_over_white(d->scratch, rgb, width * height);
    }
    png_read_end(d->png, NULL); /* requires the rest of the file, up to IEND */
    return VIC_OK;
}

void vic_png_close(vic_decoder *d) {
    if (d->png != NULL) png_destroy_read_struct(&d->png, d->png_info != NULL ? &d->png_info : NULL, NULL);
    d->png = NULL;
    d->png_info = NULL;
}

/* MARK: encoding */

typedef struct {
    png_structp png;
    png_infop info;
    uint8_t *buffer;
    size_t length;
    size_t capacity;
    int out_of_memory;
    char message[VIC_MESSAGE_CAPACITY];
} vic_png_encoder;

static void vic_png_encoder_error(png_structp png, png_const_charp text) {
    vic_png_encoder *e = png_get_error_ptr(png);
    if (e->message[0] == '\0') snprintf(e->message, sizeof e->message, "%s", text);
    png_longjmp(png, 1);
}

static void vic_png_write_data(png_structp png, png_bytep data, size_t count) {
    vic_png_encoder *e = png_get_io_ptr(png);
    if (count > e->capacity - e->length) {
        size_t grown = e->capacity < 4096 ? 4096 : e->capacity;
        while (grown - e->length < count) {
            if (grown > SIZE_MAX / 2) { e->out_of_memory = 1; png_error(png, "out of memory"); }
            grown *= 2;
        }
        uint8_t *buffer = realloc(e->buffer, grown);
        if (buffer == NULL) { e->out_of_memory = 1; png_error(png, "out of memory"); }
        e->buffer = buffer;
        e->capacity = grown;
    }
    memcpy(e->buffer + e->length, data, count);
    e->length += count;
}

static void vic_png_flush(png_structp png) { (void)png; }

vic_status vic_png_encode(const uint8_t *rgb, int32_t width, int32_t height,
                          uint8_t **out_data, size_t *out_length,
                          char *message, size_t message_capacity) {
    if (message != NULL && message_capacity > 0) message[0] = '\0';
    if (rgb == NULL || out_data == NULL || out_length == NULL) {
        vic_set_message(message, message_capacity, "invalid arguments to vic_png_encode");
        return VIC_E_INVALID_ARGUMENT;
    }
    *out_data = NULL;
    *out_length = 0;
    if (width <= 0 || height <= 0) {
        vic_set_message(message, message_capacity, "PNG cannot hold a %dx%d image", (int)width, (int)height);
        return VIC_E_INVALID_ARGUMENT;
    }
    vic_png_encoder *const e = calloc(1, sizeof *e);
    if (e == NULL) {
        vic_set_message(message, message_capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, vic_png_encoder_error, vic_png_warning_handler);
    if (e->png != NULL) e->info = png_create_info_struct(e->png);
    if (e->png == NULL || e->info == NULL) {
        png_destroy_write_struct(&e->png, NULL);
        free(e);
        vic_set_message(message, message_capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(e->png))) {
        vic_status status = e->out_of_memory ? VIC_E_NO_MEMORY : VIC_E_INVALID_ARGUMENT;
        vic_set_message(message, message_capacity, "%s", e->message);
        png_destroy_write_struct(&e->png, &e->info);
        free(e->buffer);
        free(e);
        return status;
    }
    png_set_write_fn(e->png, e, vic_png_write_data, vic_png_flush);
    png_set_IHDR(e->png, e->info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(e->png, 6);
    png_write_info(e->png, e->info);
    for (int32_t y = 0; y < height; y++) png_write_row(e->png, rgb + (size_t)y * (size_t)width * 3);
    png_write_end(e->png, NULL);
    png_destroy_write_struct(&e->png, &e->info);
    *out_data = e->buffer;
    *out_length = e->length;
    free(e);
    return VIC_OK;
}
