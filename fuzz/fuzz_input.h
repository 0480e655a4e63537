/*
 * fuzz_input.h - read typed values from a libFuzzer input, for the fuzz targets in fuzz/.
 *
 * A zr_fuzz_in is a cursor over the fuzzer's bytes. Every reader returns a value even
 * when the input is exhausted (zeros), so a target never needs to check lengths and every
 * input, however short, is a valid test case. Doubles are drawn either from a table of
 * interesting values (0, -0, 1, huge, tiny, +-inf, NaN, ...) or from 8 raw bytes (any
 * bit pattern, NaNs and denormals included).
 */
#ifndef ZR_FUZZ_INPUT_H
#define ZR_FUZZ_INPUT_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zr_fuzz_in {
    const uint8_t *p;
    size_t n;
} zr_fuzz_in;

/* An invariant broke: print it and abort, which libFuzzer reports as a crash with the input. */
#define ZR_FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* Next byte, 0 when exhausted. */
static inline uint8_t zr_fuzz_u8(zr_fuzz_in *in)
{
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}

/* Next little-endian 32/64-bit value (missing bytes read as 0). */
static inline uint32_t zr_fuzz_u32(zr_fuzz_in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)zr_fuzz_u8(in) << (8 * i);
    return v;
}

static inline uint64_t zr_fuzz_u64(zr_fuzz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)zr_fuzz_u8(in) << (8 * i);
    return v;
}

/* A double: one selector byte picks an interesting constant, a small number, or raw bits. */
static inline double zr_fuzz_double(zr_fuzz_in *in)
{
    static const double table[] = {0.0, -0.0, 1.0, 0.5, 2.0, 3.0, 1e-300, 5e-324, 1e300,
                                   DBL_MAX, -1.0, -DBL_MAX, INFINITY, -INFINITY, NAN, 60.0,
                                   1e9, 0.001, 1.0000000001, 0.999999999};
    uint8_t sel = zr_fuzz_u8(in);
    if (sel < 2 * (sizeof table / sizeof *table)) return table[sel % (sizeof table / sizeof *table)];
    if (sel < 200) return (double)zr_fuzz_u8(in) / 8.0; /* 0 .. 31.875 */
    uint64_t bits = zr_fuzz_u64(in);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A NUL-terminated string of up to cap-1 bytes copied into buf (length from the input). */
static inline const char *zr_fuzz_str(zr_fuzz_in *in, char *buf, size_t cap)
{
    size_t len = zr_fuzz_u8(in);
    if (len > cap - 1) len = cap - 1;
    if (len > in->n) len = in->n;
    memcpy(buf, in->p, len);
    buf[len] = '\0';
    in->p += len;
    in->n -= len;
    return buf;
}

#endif /* ZR_FUZZ_INPUT_H */
