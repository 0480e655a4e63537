/* zr_shared.c - shared engine state: fingerprints, lock with repair, pid liveness
 * (contracts in zr_shared.h). POSIX. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "zr_shared.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { FP_TAG_U64 = 1, FP_TAG_I64 = 2, FP_TAG_F64 = 3, FP_TAG_BYTES = 4 };

/* Little-endian encoding, independent of the host's byte order. */
static void fp_raw_u64(zr_fingerprint *fp, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    fp->h = zr_fnv1a(b, sizeof b, fp->h);
}

static void fp_tag(zr_fingerprint *fp, unsigned char tag) { fp->h = zr_fnv1a(&tag, 1, fp->h); }

void zr_fp_begin(zr_fingerprint *fp, uint32_t kind, uint32_t layout, size_t payload_size)
{
    fp->h = ZR_FNV_OFFSET;
    fp_raw_u64(fp, kind);
    fp_raw_u64(fp, layout);
    fp_raw_u64(fp, (uint64_t)payload_size);
}

void zr_fp_u64(zr_fingerprint *fp, uint64_t v)
{
    fp_tag(fp, FP_TAG_U64);
    fp_raw_u64(fp, v);
}

void zr_fp_i64(zr_fingerprint *fp, int64_t v)
{
    fp_tag(fp, FP_TAG_I64);
    fp_raw_u64(fp, (uint64_t)v);
}

void zr_fp_f64(zr_fingerprint *fp, double v)
{
    uint64_t bits;
    if (isnan(v)) bits = 0x7ff8000000000000ull;
    else {
        if (v == 0.0) v = 0.0; /* -0.0 -> +0.0 */
        memcpy(&bits, &v, sizeof bits);
    }
    fp_tag(fp, FP_TAG_F64);
    fp_raw_u64(fp, bits);
}

void zr_fp_bytes(zr_fingerprint *fp, const void *data, size_t len)
{
    fp_tag(fp, FP_TAG_BYTES);
    fp_raw_u64(fp, (uint64_t)len);
    if (len > 0) fp->h = zr_fnv1a(data, len, fp->h);
}

uint64_t zr_fp_end(const zr_fingerprint *fp) { return fp->h; }

zr_status zr_shared_open(zr_shared *sh, const char *dir, const char *name, uint32_t kind,
                         uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init,
                         void *init_arg, zr_shared_repair_fn repair, void *repair_arg,
                         int *created, zr_shm_problem *why)
{
    zr_shm shm;
    zr_status st = zr_shm_open_why(&shm, dir, name, kind, fingerprint, payload_size, init,
                                   init_arg, created, why);
    if (st != ZR_OK) return st;
    sh->shm = shm;
    sh->init = init;
    sh->init_arg = init_arg;
    sh->repair = repair;
    sh->repair_arg = repair_arg;
    sh->repairs = 0;
    sh->pid = zr_self_pid();
    sh->fork_gen = 0;
    snprintf(sh->name, sizeof sh->name, "%s", name);
    return ZR_OK;
}

void zr_shared_close(zr_shared *sh)
{
    if (sh->shm.base != NULL) zr_shm_close(&sh->shm);
    sh->shm.base = NULL;
    sh->shm.payload = NULL;
}

/* Bring a payload left half-updated by a dead holder back to a valid state. */
static void repair_payload(zr_shared *sh)
{
    void *payload = sh->shm.payload;
    if (sh->repair != NULL && sh->repair(payload, sh->repair_arg) == ZR_OK) return;
    memset(payload, 0, (size_t)sh->shm.hdr->payload_size);
    if (sh->init != NULL) (void)sh->init(payload, sh->init_arg);
}

zr_status zr_shared_lock(zr_shared *sh, int *repaired)
{
    int recovered = 0;
    zr_status st = zr_shm_lock(&sh->shm, &recovered);
    if (repaired != NULL) *repaired = recovered;
    if (st != ZR_OK) return st;
    if (recovered) {
        repair_payload(sh);
        sh->repairs = zr_sat_add_u64(sh->repairs, 1);
    }
    return ZR_OK;
}

void zr_shared_unlock(zr_shared *sh) { zr_shm_unlock(&sh->shm); }

int64_t zr_self_pid(void) { return (int64_t)getpid(); }

int zr_pid_alive(int64_t pid)
{
    if (pid <= 0 || (int64_t)(pid_t)pid != pid) return 0;
    if (kill((pid_t)pid, 0) == 0) return 1;
    return errno == EPERM; /* exists, owned by someone else */
}
