/* Internal declarations shared by the codec sources; not part of the public C API. */
#ifndef CIMAGECODECS_INTERNAL_H
#define CIMAGECODECS_INTERNAL_H

#include <stdio.h> /* jpeglib.h needs FILE and size_t first */
#include <setjmp.h>
#include <jpeglib.h>
#include <png.h>

#include "include/cimagecodecs.h"

/* libjpeg error manager that records a status and message, then longjmps back into the
 * vic_ entry point that set `jump`. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    vic_status status;
    char message[JMSG_LENGTH_MAX + 96];
} vic_jpeg_error;

struct vic_decoder {
    vic_format format;
    const uint8_t *data;
    size_t length;
    vic_image_info info;
    int has_read;
    uint8_t *scratch; /* temporary rows (orientation, CMYK, PNG alpha); freed by close */

    /* JPEG */
    struct jpeg_decompress_struct jpeg;
    vic_jpeg_error jpeg_error;
    struct jpeg_progress_mgr jpeg_progress;
    int jpeg_created;
    int jpeg_cmyk;     /* output is CMYK and needs converting to RGB */
    int jpeg_inverted; /* CMYK stored inverted (Adobe convention) */

    /* PNG */
    png_structp png;
    png_infop png_info;
    size_t png_position;
    int png_truncated;
    int png_channels; /* 3 (RGB) or 4 (RGBA) after transforms */
    int png_passes;
    char png_message[VIC_MESSAGE_CAPACITY];
};

/* Writes a printf-style message into a caller buffer (NULL or zero capacity: nothing). */
void vic_set_message(char *buffer, size_t capacity, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Format-specific halves of vic_decoder_open/read. Messages go to `message`. */
vic_status vic_jpeg_open(vic_decoder *d, int64_t max_pixels, int32_t min_side, char *message, size_t capacity);
vic_status vic_jpeg_read(vic_decoder *d, uint8_t *rgb, char *message, size_t capacity);
void vic_jpeg_close(vic_decoder *d);
vic_status vic_png_open(vic_decoder *d, int64_t max_pixels, char *message, size_t capacity);
vic_status vic_png_read(vic_decoder *d, uint8_t *rgb, char *message, size_t capacity);
void vic_png_close(vic_decoder *d);

/* Whether width * height exceeds max_pixels (no limit when max_pixels <= 0), without overflow. */
static inline int vic_exceeds_pixel_limit(uint64_t width, uint64_t height, int64_t max_pixels) {
    if (max_pixels <= 0) return 0;
    if (width == 0 || height == 0) return 0;
    return width > (uint64_t)max_pixels / height;
}

/* x * y / 255, rounded to nearest, for x, y in 0...255. */
static inline uint8_t vic_mul255(unsigned x, unsigned y) {
    unsigned t = x * y + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

#endif
