/*
 * zr_shared_state.h - the glue between each engine struct and a shared segment (issue 5):
 * its fingerprint, its init and repair callbacks for zr_shared_open, and the reaping of
 * half-open probe permits whose owner process died.
 *
 * A shared breaker records the owner pid in each probe slot it hands out. A process killed
 * while holding a probe (not the lock) leaves its slot in use; the slot is freed
 *  - by zr_shared_breaker_reap, which the binding calls (under the lock) when an acquire is
 *    refused because every probe is out: slots whose owner pid no longer exists are freed;
 *  - by zr_shared_breaker_repair after a process died holding the lock;
 *  - at worst by the breaker's own permit_lease (a recycled pid that reads as alive).
 */
#ifndef ZR_SHARED_STATE_H
#define ZR_SHARED_STATE_H

#include <stdint.h>

#include "zr_adaptive.h"
#include "zr_breaker.h"
#include "zr_budget.h"
#include "zr_common.h"
#include "zr_shared.h"

/* Counters the lock-free success paths bump with atomic adds (never plain writes), on a
 * cache line of their own after the engine state in the segment. Whoever holds the lock
 * folds them into the engine state's lifetime counters (zr_shared_tally_take), so every
 * count is in shared memory the moment it happens: exact across processes, nothing lost
 * when a process is killed, and the engine state itself is written only under the lock. */
typedef struct zr_shared_tally {
    uint64_t admitted;  /* breaker: admissions on the lock-free path */
    uint64_t successes; /* breaker: successes on the lock-free path */
    uint64_t requests;  /* token budget: requests counted without the lock */
    uint64_t reserved[5];
} zr_shared_tally;

/* Offset of the tally after an engine state of `state_size` bytes (64-byte aligned), and
 * the payload size of a segment holding both. */
static inline size_t zr_shared_tally_offset(size_t state_size)
{
    return (state_size + 63u) / 64u * 64u;
}
static inline size_t zr_shared_payload_size(size_t state_size)
{
    return zr_shared_tally_offset(state_size) + sizeof(zr_shared_tally);
}

/* Atomically add 1 to a tally counter (relaxed: it is only a count). */
static inline void zr_shared_tally_bump(uint64_t *counter)
{
    (void)__atomic_fetch_add(counter, 1u, __ATOMIC_RELAXED);
}

/* Atomically take a tally counter's value and zero it (call with the lock held). */
static inline uint64_t zr_shared_tally_take(uint64_t *counter)
{
    return __atomic_exchange_n(counter, 0u, __ATOMIC_ACQ_REL);
}

/* Fingerprint of a shared breaker: kind, state layout and size, and every config field. */
uint64_t zr_shared_breaker_fingerprint(const zr_breaker_config *cfg);

/* zr_shm_init_fn for a breaker payload; arg is the (checked) const zr_breaker_config *. */
zr_status zr_shared_breaker_init(void *payload, void *cfg);

/* zr_shared_repair_fn for a breaker payload (arg: the config): ZR_ECORRUPT if the payload
 * is not a state of this config's shape (the caller then re-initialises it), else
 * zr_breaker_repair and the reaping of dead owners' probe slots, ZR_OK. */
zr_status zr_shared_breaker_repair(void *payload, void *cfg);

/* Free the probe slots whose owner process no longer exists (zr_pid_alive). Call with the
 * segment locked. Returns how many were freed. */
uint32_t zr_shared_breaker_reap(const zr_breaker_config *cfg, zr_breaker_state *state);

/* ---- retry budget ---------------------------------------------------------------- */

/* What the budget callbacks need: the (validated) config and a current clock reading (the
 * binding refreshes `now` before each lock, so a re-initialisation starts from now). */
typedef struct zr_shared_budget_arg {
    const zr_budget_config *cfg;
    double now;
} zr_shared_budget_arg;

/* Fingerprint of a shared budget: kind, state size, mode and the fields of that mode. */
uint64_t zr_shared_budget_fingerprint(const zr_budget_config *cfg);

/* zr_shm_init_fn (arg: zr_shared_budget_arg *): zr_budget_init at arg->now. */
zr_status zr_shared_budget_init(void *payload, void *arg);

/* zr_shared_repair_fn (arg: zr_shared_budget_arg *): tokens outside [0, capacity] (or
 * NaN) become 0 (no retry until the bucket refills), a non-finite refill time arg->now, recomputes the ratio window's sums
 * from its slots; ZR_ECORRUPT (so the caller re-initialises) if the state is still not
 * valid (wrong magic or mode, slots out of place). */
zr_status zr_shared_budget_repair(void *payload, void *arg);

/* ---- adaptive strategy ------------------------------------------------------------ */

/* Fingerprint of a shared adaptive window: kind, state size and every config field. */
uint64_t zr_shared_adaptive_fingerprint(const zr_adaptive_config *cfg);

/* zr_shm_init_fn (arg: const zr_adaptive_config *): an empty window. */
zr_status zr_shared_adaptive_init(void *payload, void *cfg);

/* zr_shared_repair_fn (arg: the config): clamps head and count, recounts successes from
 * the outcome bits; ZR_ECORRUPT if the state is not an adaptive state at all. */
zr_status zr_shared_adaptive_repair(void *payload, void *cfg);

#endif /* ZR_SHARED_STATE_H */
