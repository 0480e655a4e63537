/*
 * zr_rng.h - a small, fast, seedable pseudo-random generator (xoshiro256**).
 *
 * One generator lives inside each strategy object so schedules are reproducible when a
 * seed is given. It is not cryptographic and needs no locking beyond what its owner does.
 * The struct holds no pointers, so it may live in shared memory.
 */
#ifndef ZR_RNG_H
#define ZR_RNG_H

#include <stdint.h>
#include "zr_common.h"

typedef struct zr_rng {
    uint64_t s[4];
} zr_rng;

/* Seed deterministically from a 64-bit value (expanded with splitmix64). Any seed works. */
void zr_rng_seed(zr_rng *rng, uint64_t seed);

/* Seed from the operating system's entropy source. Returns ZR_EIO if none could be read,
 * in which case the generator is still seeded (from the clock and address) and usable. */
zr_status zr_rng_seed_os(zr_rng *rng);

/* Next raw 64-bit output. */
uint64_t zr_rng_next(zr_rng *rng);

/* A double uniformly distributed in [0, 1), with 53 bits of randomness. */
double zr_rng_uniform(zr_rng *rng);

/* A double uniformly distributed in [lo, hi) (returns lo when hi <= lo). */
double zr_rng_between(zr_rng *rng, double lo, double hi);

#endif /* ZR_RNG_H */
