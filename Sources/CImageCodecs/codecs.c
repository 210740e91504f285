/* Format detection and the format-independent half of the decoder API. */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void vic_set_message(char *buffer, size_t capacity, const char *format, ...) {
    if (buffer == NULL || capacity == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, capacity, format, args);
    va_end(args);
}

vic_format vic_detect_format(const uint8_t *data, size_t length) {
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (data == NULL) return VIC_FORMAT_UNKNOWN;
    if (length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return VIC_FORMAT_JPEG;
    if (length >= 8 && memcmp(data, png_signature, 8) == 0) return VIC_FORMAT_PNG;
    return VIC_FORMAT_UNKNOWN;
}

vic_status vic_decoder_open(const uint8_t *data, size_t length, int64_t max_pixels, int32_t min_side,
                            vic_decoder **out_decoder, vic_image_info *info,
                            char *message, size_t message_capacity) {
    if (message != NULL && message_capacity > 0) message[0] = '\0';
    if (out_decoder == NULL || info == NULL || (data == NULL && length > 0) || min_side < 0) {
        vic_set_message(message, message_capacity, "invalid arguments to vic_decoder_open");
        return VIC_E_INVALID_ARGUMENT;
    }
    *out_decoder = NULL;
    memset(info, 0, sizeof *info);
    vic_format format = vic_detect_format(data, length);
    if (format == VIC_FORMAT_UNKNOWN) {
        vic_set_message(message, message_capacity, "neither a JPEG nor a PNG signature");
        return VIC_E_NOT_IMAGE;
    }
    vic_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) {
        vic_set_message(message, message_capacity, "out of memory");
        return VIC_E_NO_MEMORY;
    }
    d->format = format;
    d->data = data;
    d->length = length;
    d->info.format = format;
    d->info.orientation = 1;
    vic_status status = format == VIC_FORMAT_JPEG
        ? vic_jpeg_open(d, max_pixels, min_side, message, message_capacity)
        : vic_png_open(d, max_pixels, message, message_capacity);
    *info = d->info;
    if (status == VIC_OK) {
        /* The caller allocates width*height*3 bytes: make sure that size is representable. */
        uint64_t pixels = (uint64_t)(uint32_t)info->width * (uint64_t)(uint32_t)info->height;
        if (info->width <= 0 || info->height <= 0) {
            vic_set_message(message, message_capacity, "the image has no pixels (%dx%d)",
                            (int)info->width, (int)info->height);
            status = VIC_E_CORRUPT;
        } else if (pixels > (uint64_t)(SIZE_MAX / 4)) {
            vic_set_message(message, message_capacity, "image too large to address (%dx%d)",
                            (int)info->width, (int)info->height);
            status = VIC_E_TOO_LARGE;
        }
    }
    if (status != VIC_OK) {
        vic_decoder_close(d);
        return status;
    }
    *out_decoder = d;
    return VIC_OK;
}

vic_status vic_decoder_read(vic_decoder *d, uint8_t *rgb, size_t rgb_length,
                            char *message, size_t message_capacity) {
    if (message != NULL && message_capacity > 0) message[0] = '\0';
    if (d == NULL || rgb == NULL) {
        vic_set_message(message, message_capacity, "invalid arguments to vic_decoder_read");
        return VIC_E_INVALID_ARGUMENT;
    }
    size_t expected = (size_t)d->info.width * (size_t)d->info.height * 3;
    if (rgb_length != expected) {
        vic_set_message(message, message_capacity, "output buffer holds %zu bytes, %zu needed",
                        rgb_length, expected);
        return VIC_E_INVALID_ARGUMENT;
    }
    if (d->has_read) {
        vic_set_message(message, message_capacity, "vic_decoder_read called twice");
        return VIC_E_INVALID_ARGUMENT;
    }
    d->has_read = 1;
    return d->format == VIC_FORMAT_JPEG
        ? vic_jpeg_read(d, rgb, message, message_capacity)
        : vic_png_read(d, rgb, message, message_capacity);
}

void vic_decoder_close(vic_decoder *d) {
    if (d == NULL) return;
    if (d->format == VIC_FORMAT_JPEG) vic_jpeg_close(d);
    else vic_png_close(d);
    free(d->scratch);
    free(d);
}

void vic_free(void *pointer) { free(pointer); }
