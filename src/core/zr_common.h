/*
 * zr_common.h - status codes and small numeric helpers shared by the whole C engine.
 *
 * The engine (src/core) is plain C11: it never includes Python.h, keeps no globals and
 * never aborts on bad input. Every fallible function returns a zr_status and writes its
 * results through out-pointers; on failure the out-pointers are left untouched.
 */
#ifndef ZR_COMMON_H
#define ZR_COMMON_H

#include <math.h>
#include <stdint.h>

typedef enum zr_status {
    ZR_OK = 0,        /* success */
    ZR_EINVAL = 1,    /* an argument or configuration field is out of its domain */
    ZR_ERANGE = 2,    /* a value is outside what can be represented */
    ZR_ENOMEM = 3,    /* an allocation failed (never on a hot path) */
    ZR_ESTATE = 4,    /* the operation is not allowed in the current state */
    ZR_EREJECTED = 5, /* admission refused (open breaker, empty budget) */
    ZR_EIO = 6,       /* an operating-system call failed */
    ZR_ECORRUPT = 7   /* a persistent structure failed its integrity checks */
} zr_status;

/* Human-readable name of a status code; never NULL. */
const char *zr_status_str(zr_status st);

/* 1 if x is a finite double that is >= 0, else 0. */
static inline int zr_is_nonneg_finite(double x) { return isfinite(x) && x >= 0.0; }

/* Clamp x into [lo, hi]; NaN maps to lo. Requires lo <= hi. */
static inline double zr_clamp(double x, double lo, double hi)
{
    if (!(x >= lo)) return lo; /* also catches NaN */
    if (x > hi) return hi;
    return x;
}

/* Saturating unsigned 64-bit addition. */
static inline uint64_t zr_sat_add_u64(uint64_t a, uint64_t b)
{
    uint64_t r = a + b;
    return r < a ? UINT64_MAX : r;
}

/* Saturating unsigned 64-bit subtraction (floors at 0). */
static inline uint64_t zr_sat_sub_u64(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* Saturating unsigned 32-bit increment. */
static inline uint32_t zr_sat_inc_u32(uint32_t a) { return a == UINT32_MAX ? a : a + 1u; }

#endif /* ZR_COMMON_H */
