/*
 * cimagecodecs: a small, longjmp-free C interface to libjpeg(-turbo) and libpng for Vitrine.
 *
 * libjpeg and libpng report fatal errors by longjmp. Every entry point below sets up its own
 * setjmp before it calls into either library and turns any failure into a vic_status plus a
 * human-readable message, so callers (Swift) never see a longjmp.
 *
 * Decoding is two-step so the caller allocates the pixels:
 *   1. vic_decoder_open reads the header only, applies the pixel limit (before any image-sized
 *      allocation) and reports the output size;
 *   2. vic_decoder_read decodes into a caller-provided RGB8 buffer of width*height*3 bytes;
 *   3. vic_decoder_close frees everything (always call it when open returned a decoder).
 * The input bytes must stay valid and unchanged from open to close.
 *
 * Output is always 8-bit RGB, rows top to bottom, no padding:
 *   - JPEG: grayscale, YCbCr, RGB, CMYK and YCCK (Adobe-inverted CMYK when an Adobe APP14
 *     marker is present, plain CMYK otherwise); the EXIF orientation (APP1, tag 0x0112) is
 *     applied, so width/height are those of the upright image.
 *   - PNG: every colour type and bit depth, palettes with tRNS, Adam7 interlacing. 16-bit
 *     samples are scaled to 8 bits (v * 255 / 65535, rounded). Transparent pixels are
 *     composited over white: out = (a * c + (255 - a) * 255) / 255, rounded.
 *
 * Damaged data:
 *   - a JPEG that ends early (libjpeg's "Premature end of JPEG file" warning) is VIC_E_TRUNCATED,
 *     never a grey-filled image; "premature end of data segment", "bad Huffman/arithmetic code"
 *     and "must resync" warnings are VIC_E_CORRUPT; other libjpeg warnings (e.g. extraneous bytes
 *     before a marker) are tolerated, as most decoders do;
 *   - a PNG whose bytes run out is VIC_E_TRUNCATED (the IEND chunk is required); CRC and zlib
 *     errors in critical chunks are VIC_E_CORRUPT; libpng warnings are ignored;
 *   - a progressive JPEG with more than VIC_MAX_JPEG_SCANS scans is refused (decoding time grows
 *     with the scan count, so such files can be used to stall a decoder).
 */
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result of every vic_ call.
typedef enum {
    VIC_OK = 0,
    VIC_E_NOT_IMAGE = 1,    ///< neither JPEG nor PNG magic bytes
    VIC_E_TRUNCATED = 2,    ///< the data ends before the image is complete
    VIC_E_CORRUPT = 3,      ///< malformed data; the message says what
    VIC_E_TOO_LARGE = 4,    ///< declared width*height above the pixel limit (info has the size)
    VIC_E_UNSUPPORTED = 5,  ///< valid but unsupported (12-bit or lossless JPEG, odd colour space...)
    VIC_E_NO_MEMORY = 6,    ///< an allocation failed
    VIC_E_INVALID_ARGUMENT = 7 ///< caller error (wrong buffer size, read twice, bad parameters)
} vic_status;

typedef enum {
    VIC_FORMAT_UNKNOWN = 0,
    VIC_FORMAT_JPEG = 1,
    VIC_FORMAT_PNG = 2
} vic_format;

/// Progressive JPEGs with more scans than this are refused as corrupt.
#define VIC_MAX_JPEG_SCANS 500

/// Recommended size of the message buffers passed to the functions below.
#define VIC_MESSAGE_CAPACITY 256

typedef struct {
    vic_format format;
    int32_t stored_width;   ///< as declared in the file's header (before orientation/scaling)
    int32_t stored_height;
    int32_t width;          ///< size vic_decoder_read produces (after DCT scaling and orientation)
    int32_t height;
    int32_t orientation;    ///< EXIF orientation 1...8 (always 1 for PNG)
} vic_image_info;

typedef struct vic_decoder vic_decoder;

/// Recognises JPEG (FF D8 FF) and PNG (the 8-byte signature) by their magic bytes.
vic_format vic_detect_format(const uint8_t *data, size_t length);

/// Reads the header of a JPEG or PNG held in memory.
///
/// - max_pixels: refuse (VIC_E_TOO_LARGE) when stored_width * stored_height exceeds it; <= 0
///   means no limit. The check happens before anything image-sized is allocated.
/// - min_side: 0 decodes at full size. A positive value lets a JPEG be decoded with libjpeg's
///   DCT scaling (1/8 ... 8/8) at the smallest scale whose longer side is still >= min_side.
///   Ignored for PNG.
/// On success *out_decoder is set and must be passed to vic_decoder_close. On failure
/// *out_decoder is NULL, the message is written to `message` (NUL-terminated, truncated to
/// message_capacity) and, for VIC_E_TOO_LARGE, info->stored_width/height hold the declared size.
vic_status vic_decoder_open(const uint8_t *data, size_t length, int64_t max_pixels, int32_t min_side,
                            vic_decoder **out_decoder, vic_image_info *info,
                            char *message, size_t message_capacity);

/// Decodes the pixels into `rgb`, which must hold exactly info.width * info.height * 3 bytes.
/// Can be called once per decoder.
vic_status vic_decoder_read(vic_decoder *decoder, uint8_t *rgb, size_t rgb_length,
                            char *message, size_t message_capacity);

/// Frees the decoder and everything it allocated. NULL is allowed.
void vic_decoder_close(vic_decoder *decoder);

/// Encodes RGB8 pixels as a baseline JPEG, 4:2:0 chroma subsampling, JFIF header, standard
/// Huffman tables, accurate integer DCT: the output depends only on the input and the quality.
/// quality is 1...100. On success *out_data is a malloc'ed buffer to release with vic_free.
vic_status vic_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality,
                           uint8_t **out_data, size_t *out_length,
                           char *message, size_t message_capacity);

/// Encodes RGB8 pixels as a non-interlaced 8-bit RGB PNG (zlib level 6, adaptive filtering).
/// On success *out_data is a malloc'ed buffer to release with vic_free.
vic_status vic_png_encode(const uint8_t *rgb, int32_t width, int32_t height,
                          uint8_t **out_data, size_t *out_length,
                          char *message, size_t message_capacity);

/// Frees a buffer returned by the encoders.
void vic_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* CIMAGECODECS_H */
