/*
 * zr_shared.h - one engine struct (breaker, budget, adaptive window) shared by every
 * process on the host that opens the same name: a zr_shm segment plus what the engine
 * needs around it.
 *
 *  - Configuration fingerprints (zr_fp_*): a 64-bit FNV-1a hash over a canonical, typed
 *    encoding of the configuration fields (little-endian integers, doubles with -0.0 and
 *    NaN normalised, length-prefixed bytes). Two processes that open one name with
 *    different settings get ZR_ESTATE / ZR_SHM_OTHER_CONFIG instead of silently sharing.
 *  - Locking with repair (zr_shared_lock): when the robust mutex reports that the previous
 *    holder died, the kind's repair callback runs under the lock before the caller sees
 *    the payload (clamp counters, release probe permits of dead owners, reset an illegal
 *    state). If no repair callback is given, or it fails, the payload is re-initialised
 *    with the init callback: a safe state, never a torn one.
 *  - Owner liveness (zr_pid_alive): for permits that record the pid of their holder.
 *
 * The zr_shared handle is process-local (it holds pointers, including the callbacks and
 * their arguments); only the payload bytes live in shared memory and hold no pointers.
 */
#ifndef ZR_SHARED_H
#define ZR_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "zr_common.h"
#include "zr_shm.h"

/* Repairs a payload whose last writer died mid-update; called with the segment locked.
 * Must leave every invariant of the payload true. ZR_OK, or an error to make the caller
 * re-initialise the payload instead. */
typedef zr_status (*zr_shared_repair_fn)(void *payload, void *arg);

typedef struct zr_shared {
    zr_shm shm;
    zr_shm_init_fn init;        /* also the fallback when repair is NULL or fails */
    void *init_arg;
    zr_shared_repair_fn repair; /* may be NULL */
    void *repair_arg;
    uint64_t repairs;           /* repairs done by this process (the header counts all) */
    int64_t pid;                /* this process's id when opened or last refreshed */
    uint64_t fork_gen;          /* the binding's fork generation when pid was read */
    void *tally;                /* where the binding keeps its lock-free counters, or NULL */
    char name[ZR_SHM_NAME_MAX + 1];
} zr_shared;

/* Builder of a configuration fingerprint. */
typedef struct zr_fingerprint {
    uint64_t h;
} zr_fingerprint;

/* Start a fingerprint for payload `kind` whose struct has `payload_size` bytes and the
 * engine layout `layout` (bump it when the struct's meaning changes). */
void zr_fp_begin(zr_fingerprint *fp, uint32_t kind, uint32_t layout, size_t payload_size);

/* Add one field. Each field is tagged with its type, so (u64 1, f64 2) and (f64 1, u64 2)
 * differ, and fields are order-sensitive. */
void zr_fp_u64(zr_fingerprint *fp, uint64_t v);
void zr_fp_i64(zr_fingerprint *fp, int64_t v);
void zr_fp_f64(zr_fingerprint *fp, double v); /* -0.0 == 0.0, every NaN alike */
void zr_fp_bytes(zr_fingerprint *fp, const void *data, size_t len);

/* The finished fingerprint (the builder may continue to be used). */
uint64_t zr_fp_end(const zr_fingerprint *fp);

/* Open (creating if needed) the segment `name` in `dir` for `kind` with `fingerprint`;
 * init runs on a freshly created, zeroed payload and also when a repair fails. On error
 * *sh is untouched and *why (if not NULL) says what was wrong with the file or directory:
 *   ZR_EINVAL   bad name or size; ZR_ERANGE path too long;
 *   ZR_ECORRUPT truncated / foreign / stale / corrupted / other kind;
 *   ZR_ESTATE   other configuration, wrong owner or mode, unsafe directory;
 *   ZR_EIO      the operating system refused. */
zr_status zr_shared_open(zr_shared *sh, const char *dir, const char *name, uint32_t kind,
                         uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init,
                         void *init_arg, zr_shared_repair_fn repair, void *repair_arg,
                         int *created, zr_shm_problem *why);

/* Unmap (the segment stays for the other processes). Safe on a zeroed handle and twice. */
void zr_shared_close(zr_shared *sh);

/* The payload (valid while open; touch it only between zr_shared_lock and unlock, except
 * for racy reads that tolerate a torn value). */
static inline void *zr_shared_payload(const zr_shared *sh) { return sh->shm.payload; }

/* Lock; if the previous holder died, repair (or re-initialise) the payload first and set
 * *repaired = 1 (repaired may be NULL). ZR_EIO if the lock is unusable; then nothing is
 * held. */
zr_status zr_shared_lock(zr_shared *sh, int *repaired);
void zr_shared_unlock(zr_shared *sh);

/* This process's id, as recorded by permit owners. */
int64_t zr_self_pid(void);

/* 1 if a process with this pid exists (kill(pid, 0) succeeds or fails with EPERM), 0 if
 * it does not (ESRCH) or pid <= 0. A recycled pid reads as alive: callers that must not
 * wait forever on it also bound the permit by time. */
int zr_pid_alive(int64_t pid);

#endif /* ZR_SHARED_H */
