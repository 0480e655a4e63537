/* zr_shm.c - named shared-memory segments (contracts in zr_shm.h). POSIX/Linux. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "zr_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD_ALIGN 64u

uint64_t zr_fnv1a(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t header_checksum(const zr_shm_header *h)
{
    return zr_fnv1a(h, offsetof(zr_shm_header, checksum), ZR_FNV_OFFSET);
}

static size_t payload_offset(void)
{
    size_t off = sizeof(zr_shm_header);
    return (off + PAYLOAD_ALIGN - 1) / PAYLOAD_ALIGN * PAYLOAD_ALIGN;
}

int zr_shm_name_valid(const char *name)
{
    size_t n = 0;
    if (name == NULL || name[0] == '\0' || name[0] == '.') return 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok || n >= ZR_SHM_NAME_MAX) return 0;
    }
    return 1;
}

zr_status zr_shm_default_dir(char *buf, size_t size)
{
    struct stat st;
    const char *base = "/dev/shm";
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) || access(base, W_OK) != 0) {
        base = getenv("TMPDIR");
        if (base == NULL || base[0] == '\0') base = "/tmp";
    }
    int n = snprintf(buf, size, "%s/zenoo_retry-%lu", base, (unsigned long)getuid());
    return (n < 0 || (size_t)n >= size) ? ZR_ERANGE : ZR_OK;
}

zr_status zr_shm_ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return ZR_EIO;
    struct stat st;
    if (lstat(dir, &st) != 0) return ZR_EIO;
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0)
        return ZR_ESTATE;
    return ZR_OK;
}

static zr_status make_path(char *buf, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(buf, ZR_SHM_PATH_MAX, "%s/%s%s", dir, name, suffix);
    return (n < 0 || n >= ZR_SHM_PATH_MAX) ? ZR_ERANGE : ZR_OK;
}

const char *zr_shm_problem_str(zr_shm_problem p)
{
    switch (p) {
    case ZR_SHM_HEALTHY: return "healthy";
    case ZR_SHM_MISSING: return "no such segment";
    case ZR_SHM_UNREADABLE: return "the file cannot be opened, read or mapped";
    case ZR_SHM_NOT_REGULAR: return "not a regular file (symlink, directory or device)";
    case ZR_SHM_BAD_OWNER: return "owned by another user";
    case ZR_SHM_BAD_MODE: return "group or others may access it (segments must be mode 0600)";
    case ZR_SHM_TRUNCATED: return "truncated: the file is shorter than its header and payload";
    case ZR_SHM_FOREIGN: return "foreign file: no zenoo_retry segment magic";
    case ZR_SHM_STALE:
        return "stale segment: written by a zenoo_retry with another layout version";
    case ZR_SHM_CORRUPT: return "corrupted: header checksum or offsets do not match";
    case ZR_SHM_OTHER_KIND:
        return "the name holds another kind of state or size";
    case ZR_SHM_OTHER_CONFIG:
        return "configuration mismatch: created with different settings under the same name";
    case ZR_SHM_UNSAFE_DIR:
        return "the segment directory is not private (must be a directory owned by this user, "
               "mode 0700)";
    }
    return "unknown problem";
}

static zr_status problem_status(zr_shm_problem p)
{
    switch (p) {
    case ZR_SHM_HEALTHY: return ZR_OK;
    case ZR_SHM_MISSING:
    case ZR_SHM_UNREADABLE: return ZR_EIO;
    case ZR_SHM_NOT_REGULAR:
    case ZR_SHM_BAD_OWNER:
    case ZR_SHM_BAD_MODE:
    case ZR_SHM_OTHER_CONFIG:
    case ZR_SHM_UNSAFE_DIR: return ZR_ESTATE;
    default: return ZR_ECORRUPT;
    }
}

/* Check a header read from a file of `file_size` bytes (of which `avail` bytes of the
 * header could be read) against what the caller expects (check_expect). */
static zr_shm_problem check_header(const zr_shm_header *h, uint64_t file_size, size_t avail,
                                   uint32_t kind, uint64_t fingerprint, size_t payload_size,
                                   int check_expect)
{
    if (avail < sizeof h->magic) return ZR_SHM_TRUNCATED;
    if (h->magic != ZR_SHM_MAGIC) return ZR_SHM_FOREIGN;
    if (avail < offsetof(zr_shm_header, kind)) return ZR_SHM_TRUNCATED;
    if (h->layout_version != ZR_SHM_LAYOUT_VERSION) return ZR_SHM_STALE;
    if (avail < sizeof *h || file_size < sizeof *h) return ZR_SHM_TRUNCATED;
    if (h->checksum != header_checksum(h) || h->payload_offset != payload_offset())
        return ZR_SHM_CORRUPT;
    /* written as a subtraction: a hostile payload_size near 2^64 must not wrap the sum */
    if (file_size < h->payload_offset || h->payload_size > file_size - h->payload_offset)
        return ZR_SHM_TRUNCATED;
    if (!check_expect) return ZR_SHM_HEALTHY;
    if (h->kind != kind || h->payload_size != payload_size) return ZR_SHM_OTHER_KIND;
    if (h->fingerprint != fingerprint) return ZR_SHM_OTHER_CONFIG;
    return ZR_SHM_HEALTHY;
}

/* Owner, type and mode checks of an opened file. */
static zr_shm_problem check_stat(const struct stat *fs)
{
    if (!S_ISREG(fs->st_mode)) return ZR_SHM_NOT_REGULAR;
    if (fs->st_uid != getuid()) return ZR_SHM_BAD_OWNER;
    if ((fs->st_mode & 077) != 0) return ZR_SHM_BAD_MODE;
    return ZR_SHM_HEALTHY;
}

static zr_status map_file(int fd, size_t size, void **base)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return ZR_EIO;
    *base = p;
    return ZR_OK;
}

/* Build a complete segment under a temporary name and link it into place. ZR_OK when
 * this process created it, ZR_ESTATE when another process won the race (caller opens). */
static zr_status create_segment(const char *dir, const char *name, const char *final_path,
                                uint32_t kind, uint64_t fingerprint, size_t payload_size,
                                zr_shm_init_fn init, void *arg)
{
    char tmp[ZR_SHM_PATH_MAX];
    char suffix[96];
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* unique per process, thread (stack address) and moment */
    snprintf(suffix, sizeof suffix, ".zrseg.tmp.%ld.%lx.%ld", (long)getpid(),
             (unsigned long)(uintptr_t)&now, (long)now.tv_nsec);
    if (make_path(tmp, dir, name, suffix) != ZR_OK) return ZR_ERANGE;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ZR_EIO;
    size_t total = payload_offset() + payload_size;
    zr_status st = ZR_EIO;
    void *base = NULL;
    if (ftruncate(fd, (off_t)total) != 0 || map_file(fd, total, &base) != ZR_OK) goto out;
    zr_shm_header *h = base;
    memset(h, 0, sizeof *h);
    h->magic = ZR_SHM_MAGIC;
    h->layout_version = ZR_SHM_LAYOUT_VERSION;
    h->kind = kind;
    h->fingerprint = fingerprint;
    h->payload_size = payload_size;
    h->payload_offset = payload_offset();
    h->creator_pid = (int64_t)getpid();
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h->created_at = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    h->checksum = header_checksum(h);
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) != 0) goto out;
    int rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (rc == 0) rc = pthread_mutex_init(&h->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (rc != 0) goto out;
    if (init != NULL && (st = init((char *)base + h->payload_offset, arg)) != ZR_OK) goto out;
    if (msync(base, total, MS_SYNC) != 0) {
        st = ZR_EIO;
        goto out;
    }
    if (link(tmp, final_path) == 0) st = ZR_OK;
    else st = errno == EEXIST ? ZR_ESTATE : ZR_EIO;
out:
    if (base != NULL) munmap(base, total);
    close(fd);
    unlink(tmp);
    return st;
}

zr_status zr_shm_open(zr_shm *s, const char *dir, const char *name, uint32_t kind,
                      uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init, void *arg,
                      int *created)
{
    return zr_shm_open_why(s, dir, name, kind, fingerprint, payload_size, init, arg, created,
                           NULL);
}

zr_status zr_shm_open_why(zr_shm *s, const char *dir, const char *name, uint32_t kind,
                          uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init,
                          void *arg, int *created, zr_shm_problem *why)
{
    zr_shm_problem dummy;
    if (why == NULL) why = &dummy;
    *why = ZR_SHM_HEALTHY;
    if (!zr_shm_name_valid(name) || payload_size == 0 || payload_size > ((size_t)1 << 30))
        return ZR_EINVAL;
    zr_status st = zr_shm_ensure_dir(dir);
    if (st != ZR_OK) {
        *why = st == ZR_ESTATE ? ZR_SHM_UNSAFE_DIR : ZR_SHM_UNREADABLE;
        return st;
    }
    char path[ZR_SHM_PATH_MAX];
    if (make_path(path, dir, name, ".zrseg") != ZR_OK) return ZR_ERANGE;
    int did_create = 0;
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ELOOP) {
                *why = ZR_SHM_NOT_REGULAR;
                return ZR_ESTATE;
            }
            if (errno != ENOENT) {
                *why = ZR_SHM_UNREADABLE;
                return ZR_EIO;
            }
            st = create_segment(dir, name, path, kind, fingerprint, payload_size, init, arg);
            if (st == ZR_OK) did_create = 1;
            else if (st != ZR_ESTATE) return st;
            continue; /* open what is now in place */
        }
        struct stat fs;
        zr_shm_problem p = ZR_SHM_UNREADABLE;
        if (fstat(fd, &fs) == 0) p = check_stat(&fs);
        if (p == ZR_SHM_HEALTHY && (uint64_t)fs.st_size < sizeof(zr_shm_header)) {
            /* too short to map a header: tell foreign from truncated by the magic */
            zr_shm_header h;
            ssize_t got = pread(fd, &h, sizeof h, 0);
            p = check_header(&h, (uint64_t)fs.st_size, got > 0 ? (size_t)got : 0, kind,
                             fingerprint, payload_size, 1);
            if (p == ZR_SHM_HEALTHY) p = ZR_SHM_TRUNCATED;
        }
        void *base = NULL;
        if (p == ZR_SHM_HEALTHY && map_file(fd, (size_t)fs.st_size, &base) != ZR_OK)
            p = ZR_SHM_UNREADABLE;
        if (p == ZR_SHM_HEALTHY) {
            p = check_header(base, (uint64_t)fs.st_size, sizeof(zr_shm_header), kind,
                             fingerprint, payload_size, 1);
            if (p != ZR_SHM_HEALTHY) munmap(base, (size_t)fs.st_size);
        }
        if (p != ZR_SHM_HEALTHY) {
            close(fd);
            *why = p;
            return problem_status(p);
        }
        s->fd = fd;
        s->base = base;
        s->map_size = (size_t)fs.st_size;
        s->hdr = base;
        s->payload = (char *)base + s->hdr->payload_offset;
        memcpy(s->path, path, sizeof path);
        if (created) *created = did_create;
        return ZR_OK;
    }
    return ZR_EIO;
}

void zr_shm_close(zr_shm *s)
{
    if (s->base != NULL) munmap(s->base, s->map_size);
    if (s->fd > 0) close(s->fd);
    s->base = NULL;
    s->hdr = NULL;
    s->payload = NULL;
    s->fd = -1;
}

zr_status zr_shm_lock(zr_shm *s, int *recovered)
{
    *recovered = 0;
    int rc = pthread_mutex_lock(&s->hdr->lock);
    if (rc == EOWNERDEAD) {
        *recovered = 1;
        s->hdr->recoveries = zr_sat_add_u64(s->hdr->recoveries, 1);
        if (pthread_mutex_consistent(&s->hdr->lock) != 0) {
            (void)pthread_mutex_unlock(&s->hdr->lock); /* never return holding it */
            return ZR_EIO;
        }
        return ZR_OK;
    }
    return rc == 0 ? ZR_OK : ZR_EIO;
}

void zr_shm_unlock(zr_shm *s) { (void)pthread_mutex_unlock(&s->hdr->lock); }

zr_status zr_shm_unlink(const char *dir, const char *name)
{
    if (!zr_shm_name_valid(name)) return ZR_EINVAL;
    char path[ZR_SHM_PATH_MAX];
    if (make_path(path, dir, name, ".zrseg") != ZR_OK) return ZR_ERANGE;
    return unlink(path) == 0 ? ZR_OK : ZR_EIO;
}

zr_status zr_shm_examine(const char *path, zr_shm_info *info)
{
    memset(info, 0, sizeof *info);
    info->problem = ZR_SHM_UNREADABLE;
    struct stat ls;
    if (lstat(path, &ls) != 0) {
        if (errno == ENOENT) info->problem = ZR_SHM_MISSING;
        return ZR_EIO;
    }
    info->file_size = (uint64_t)ls.st_size;
    info->mode = (uint32_t)(ls.st_mode & 07777);
    info->uid = (uint32_t)ls.st_uid;
    if ((info->problem = check_stat(&ls)) != ZR_SHM_HEALTHY)
        return problem_status(info->problem);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        info->problem = errno == ENOENT ? ZR_SHM_MISSING : ZR_SHM_UNREADABLE;
        return ZR_EIO;
    }
    zr_shm_header h;
    memset(&h, 0, sizeof h);
    ssize_t got = pread(fd, &h, sizeof h, 0);
    close(fd);
    if (got < 0) {
        info->problem = ZR_SHM_UNREADABLE;
        return ZR_EIO;
    }
    info->problem = check_header(&h, info->file_size, (size_t)got, 0, 0, 0, 0);
    if (info->problem == ZR_SHM_HEALTHY || info->problem == ZR_SHM_CORRUPT) {
        /* corrupt headers are reported as read, for inspection; do not trust them */
        info->kind = h.kind;
        info->layout_version = h.layout_version;
        info->fingerprint = h.fingerprint;
        info->payload_size = h.payload_size;
        info->creator_pid = h.creator_pid;
        info->created_at = h.created_at;
        info->recoveries = h.recoveries;
    }
    else if (info->problem == ZR_SHM_STALE) {
        info->layout_version = h.layout_version;
    }
    return problem_status(info->problem);
}

zr_status zr_shm_read_payload(const char *path, const zr_shm_info *info, size_t offset,
                              void *buf, size_t len)
{
    if (offset > info->payload_size || len > info->payload_size - offset) return ZR_ERANGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return ZR_EIO;
    ssize_t got = pread(fd, buf, len, (off_t)(payload_offset() + offset));
    close(fd);
    return got == (ssize_t)len ? ZR_OK : ZR_EIO;
}

zr_status zr_shm_inspect(const char *path, zr_shm_info *info)
{
    zr_shm_info tmp;
    zr_status st = zr_shm_examine(path, &tmp);
    if (st == ZR_OK) *info = tmp;
    return st;
}
