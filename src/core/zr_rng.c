/* zr_rng.c - xoshiro256** seeded by splitmix64 (public-domain algorithms by Vigna et al.). */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "zr_rng.h"

#include <stdio.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void zr_rng_seed(zr_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
    /* xoshiro must not start from the all-zero state; splitmix64 never yields four zeros,
     * but keep the guarantee explicit. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
}

zr_status zr_rng_seed_os(zr_rng *rng)
{
    uint64_t seed = 0;
    zr_status st = ZR_EIO;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&seed, sizeof seed, 1, f) == 1) st = ZR_OK;
        fclose(f);
    }
    if (st != ZR_OK) {
        struct timespec ts;
        timespec_get(&ts, TIME_UTC);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)rng;
    }
    zr_rng_seed(rng, seed);
    return st;
}

uint64_t zr_rng_next(zr_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double zr_rng_uniform(zr_rng *rng) { return (double)(zr_rng_next(rng) >> 11) * 0x1.0p-53; }

double zr_rng_between(zr_rng *rng, double lo, double hi)
{
    if (!(hi > lo)) return lo;
    double span = hi - lo;
    if (!isfinite(span)) { /* lo and hi finite but span overflows: scale halves */
        double u = zr_rng_uniform(rng);
        return lo * (1.0 - u) + hi * u;
    }
    double r = lo + span * zr_rng_uniform(rng);
    return r < hi ? r : lo; /* rounding can touch hi; keep the half-open contract */
}
