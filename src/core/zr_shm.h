/*
 * zr_shm.h - named shared-memory segments holding one fixed-size engine struct
 * (a breaker, a budget, an adaptive window) shared by every process that opens the name.
 *
 * Files: a segment is a file `<dir>/<name>.zrseg` mapped MAP_SHARED. `dir` is private to
 * the user (mode 0700, owned by the caller's uid, checked on every open); the segment
 * file is created 0600. By default dir is /dev/shm/zenoo_retry-<uid> (tmpfs: no disk I/O),
 * else $TMPDIR/zenoo_retry-<uid>.
 *
 * Layout: a zr_shm_header (magic, layout version, kind, configuration fingerprint,
 * payload size, header checksum, creator pid, a process-shared robust mutex) followed by
 * the payload. A segment appears under its final name only once fully initialised (it is
 * built under a temporary name and hard-linked into place), so an opener never sees a
 * half-built one. On open every header field is checked:
 *   file shorter than the header or than header + payload   -> ZR_ECORRUPT (truncated)
 *   wrong magic / layout version / checksum                 -> ZR_ECORRUPT (foreign/corrupt)
 *   other kind or payload size                              -> ZR_ECORRUPT (foreign)
 *   other fingerprint (same name, different configuration)  -> ZR_ESTATE
 *   file not owned by this uid, or group/other access bits  -> ZR_ESTATE
 * zr_shm_open_why / zr_shm_examine also say precisely which of these it was
 * (zr_shm_problem), so callers can raise an error naming the problem.
 *
 * Locking: every mutation of the payload happens under zr_shm_lock. The mutex is robust:
 * if a process dies holding it (even mid-update), the next locker gets it with
 * *recovered = 1 and must repair the payload's invariants before unlocking (the engine
 * structs provide zr_*_repair functions). No deadlock, no silent inconsistency.
 *
 * The zr_shm handle is process-local (it holds pointers); only the mapped bytes are shared.
 */
#ifndef ZR_SHM_H
#define ZR_SHM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "zr_common.h"

#define ZR_SHM_MAGIC 0x5a52534547303031ull /* "ZRSEG001" */
#define ZR_SHM_LAYOUT_VERSION 1u
#define ZR_SHM_NAME_MAX 100
#define ZR_SHM_PATH_MAX 512

typedef enum zr_shm_kind {
    ZR_SHM_KIND_BREAKER = 1,
    ZR_SHM_KIND_BUDGET = 2,
    ZR_SHM_KIND_ADAPTIVE = 3,
    ZR_SHM_KIND_TEST = 99
} zr_shm_kind;

typedef struct zr_shm_header {
    uint64_t magic;
    uint32_t layout_version;
    uint32_t kind;
    uint64_t fingerprint;  /* hash of the configuration the payload was created with */
    uint64_t payload_size; /* bytes after the header */
    uint64_t payload_offset;
    int64_t creator_pid;
    double created_at;     /* wall clock, for inspection */
    uint64_t checksum;     /* FNV-1a of the fields above */
    uint64_t recoveries;   /* times a dead lock holder was recovered from */
    pthread_mutex_t lock;  /* process-shared, robust */
} zr_shm_header;

typedef struct zr_shm {
    int fd;
    void *base;        /* mapping of the whole file */
    size_t map_size;
    zr_shm_header *hdr;
    void *payload;     /* aligned to 64 bytes */
    char path[ZR_SHM_PATH_MAX];
} zr_shm;

/* What is wrong with a segment file (ZR_SHM_HEALTHY: nothing). */
typedef enum zr_shm_problem {
    ZR_SHM_HEALTHY = 0,
    ZR_SHM_MISSING = 1,      /* no such file */
    ZR_SHM_UNREADABLE = 2,   /* open/stat/read/mmap failed */
    ZR_SHM_NOT_REGULAR = 3,  /* a symlink, directory, fifo ... */
    ZR_SHM_BAD_OWNER = 4,    /* owned by another uid */
    ZR_SHM_BAD_MODE = 5,     /* group or other may access it (must be 0600) */
    ZR_SHM_TRUNCATED = 6,    /* shorter than its header or header + payload */
    ZR_SHM_FOREIGN = 7,      /* no zenoo_retry magic: not one of our segments */
    ZR_SHM_STALE = 8,        /* our magic, another layout version (older/newer release) */
    ZR_SHM_CORRUPT = 9,      /* header checksum or offsets wrong */
    ZR_SHM_OTHER_KIND = 10,  /* a segment of another kind (breaker vs budget) or size */
    ZR_SHM_OTHER_CONFIG = 11, /* same name created with another configuration */
    ZR_SHM_UNSAFE_DIR = 12   /* the directory is not private to this uid */
} zr_shm_problem;

/* A short English description of a problem ("header checksum mismatch: ..."); never NULL. */
const char *zr_shm_problem_str(zr_shm_problem p);

/* Initialises a freshly created payload (zeroed) before it becomes visible; return ZR_OK
 * or an error that aborts the creation. */
typedef zr_status (*zr_shm_init_fn)(void *payload, void *arg);

/* Information read from a segment file without mapping it for use. */
typedef struct zr_shm_info {
    uint32_t kind;
    uint32_t layout_version;
    uint64_t fingerprint;
    uint64_t payload_size;
    int64_t creator_pid;
    double created_at;
    uint64_t recoveries;
    uint64_t file_size;
    uint32_t mode;          /* st_mode & 07777 */
    uint32_t uid;           /* owner */
    zr_shm_problem problem; /* ZR_SHM_HEALTHY or what is wrong (zr_shm_examine) */
} zr_shm_info;

/* 1 if name is a valid segment name: 1..ZR_SHM_NAME_MAX of [A-Za-z0-9._-], not starting
 * with '.'; else 0. */
int zr_shm_name_valid(const char *name);

/* The default private directory (see above) into buf; ZR_ERANGE if it does not fit. */
zr_status zr_shm_default_dir(char *buf, size_t size);

/* Create `dir` (mode 0700) if missing, then check it is a directory owned by this uid with
 * no group/other access. ZR_EIO if it cannot be created, ZR_ESTATE if it is unsafe. */
zr_status zr_shm_ensure_dir(const char *dir);

/* Open segment `name` in `dir`, creating it (and calling init on its zeroed payload) if it
 * does not exist. *created (if not NULL) tells which happened. On error *s is untouched
 * and nothing stays mapped or open. ZR_EINVAL: bad name or sizes. */
zr_status zr_shm_open(zr_shm *s, const char *dir, const char *name, uint32_t kind,
                      uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init, void *arg,
                      int *created);

/* zr_shm_open that also reports, when it fails on a bad file or directory, which problem
 * it found in *why (ZR_SHM_HEALTHY for other failures such as ZR_EINVAL). why may be NULL. */
zr_status zr_shm_open_why(zr_shm *s, const char *dir, const char *name, uint32_t kind,
                          uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init,
                          void *arg, int *created, zr_shm_problem *why);

/* Unmap and close (the segment stays for other processes). Safe on a zeroed handle. */
void zr_shm_close(zr_shm *s);

/* Lock the segment. *recovered = 1 when the previous holder died while holding it: the
 * payload may be half-updated and must be repaired before zr_shm_unlock. ZR_EIO if the
 * lock is unusable (ENOTRECOVERABLE). */
zr_status zr_shm_lock(zr_shm *s, int *recovered);
void zr_shm_unlock(zr_shm *s);

/* Remove segment `name` from `dir` (processes that have it mapped keep working on their
 * mapping). ZR_EIO if it does not exist or cannot be removed. */
zr_status zr_shm_unlink(const char *dir, const char *name);

/* Read and check the header of the file at `path`. Same errors as zr_shm_open for a bad
 * file (ZR_ECORRUPT), ZR_EIO if it cannot be read. */
zr_status zr_shm_inspect(const char *path, zr_shm_info *info);

/* Examine the file at `path` without mapping it: always fills info->problem, and as much
 * of info as could be read (file_size/mode/uid whenever stat worked, the header fields
 * when the header is ours and intact). Returns ZR_OK when healthy, else ZR_ECORRUPT
 * (bad contents), ZR_ESTATE (owner/mode) or ZR_EIO (missing/unreadable). */
zr_status zr_shm_examine(const char *path, zr_shm_info *info);

/* Copy `len` bytes at `offset` of the payload of the (healthy, examined) segment file at
 * `path` into buf, without locking (a racy snapshot, for inspection). ZR_ERANGE if the
 * range is outside the payload described by info, ZR_EIO if it cannot be read. */
zr_status zr_shm_read_payload(const char *path, const zr_shm_info *info, size_t offset,
                              void *buf, size_t len);

/* FNV-1a 64 of a byte range, chained: pass the previous result as `seed` (start with
 * ZR_FNV_OFFSET). Used for configuration fingerprints. */
#define ZR_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t zr_fnv1a(const void *data, size_t len, uint64_t seed);

#endif /* ZR_SHM_H */
