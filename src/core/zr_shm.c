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

/* Check a mapped header against what the caller expects. */
static zr_status check_header(const zr_shm_header *h, uint64_t file_size, uint32_t kind,
                              uint64_t fingerprint, size_t payload_size, int check_expect)
{
    if (file_size < sizeof *h) return ZR_ECORRUPT;
    if (h->magic != ZR_SHM_MAGIC || h->layout_version != ZR_SHM_LAYOUT_VERSION)
        return ZR_ECORRUPT;
    if (h->checksum != header_checksum(h)) return ZR_ECORRUPT;
    /* written as a subtraction: a hostile payload_size near 2^64 must not wrap the sum */
    if (h->payload_offset != payload_offset() || file_size < h->payload_offset ||
        h->payload_size > file_size - h->payload_offset)
        return ZR_ECORRUPT;
    if (!check_expect) return ZR_OK;
    if (h->kind != kind || h->payload_size != payload_size) return ZR_ECORRUPT;
    if (h->fingerprint != fingerprint) return ZR_ESTATE;
    return ZR_OK;
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
    if (!zr_shm_name_valid(name) || payload_size == 0 || payload_size > ((size_t)1 << 30))
        return ZR_EINVAL;
    zr_status st = zr_shm_ensure_dir(dir);
    if (st != ZR_OK) return st;
    char path[ZR_SHM_PATH_MAX];
    if (make_path(path, dir, name, ".zrseg") != ZR_OK) return ZR_ERANGE;
    int did_create = 0;
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno != ENOENT) return ZR_EIO;
            st = create_segment(dir, name, path, kind, fingerprint, payload_size, init, arg);
            if (st == ZR_OK) did_create = 1;
            else if (st != ZR_ESTATE) return st;
            continue; /* open what is now in place */
        }
        struct stat fs;
        if (fstat(fd, &fs) != 0) { /* (fs is unset: do not look at it) */
            close(fd);
            return ZR_EIO;
        }
        if (!S_ISREG(fs.st_mode) || fs.st_uid != getuid()) {
            close(fd);
            return fs.st_uid != getuid() ? ZR_ESTATE : ZR_EIO;
        }
        if ((uint64_t)fs.st_size < sizeof(zr_shm_header)) {
            close(fd);
            return ZR_ECORRUPT;
        }
        void *base;
        if (map_file(fd, (size_t)fs.st_size, &base) != ZR_OK) {
            close(fd);
            return ZR_EIO;
        }
        st = check_header(base, (uint64_t)fs.st_size, kind, fingerprint, payload_size, 1);
        if (st != ZR_OK) {
            munmap(base, (size_t)fs.st_size);
            close(fd);
            return st;
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
        if (pthread_mutex_consistent(&s->hdr->lock) != 0) return ZR_EIO;
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

zr_status zr_shm_inspect(const char *path, zr_shm_info *info)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return ZR_EIO;
    struct stat fs;
    zr_shm_header h;
    zr_status st = ZR_EIO;
    if (fstat(fd, &fs) == 0) {
        if ((uint64_t)fs.st_size < sizeof h) {
            st = ZR_ECORRUPT;
        }
        else if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h) {
            st = check_header(&h, (uint64_t)fs.st_size, 0, 0, 0, 0);
            if (st == ZR_OK) {
                info->kind = h.kind;
                info->layout_version = h.layout_version;
                info->fingerprint = h.fingerprint;
                info->payload_size = h.payload_size;
                info->creator_pid = h.creator_pid;
                info->created_at = h.created_at;
                info->recoveries = h.recoveries;
                info->file_size = (uint64_t)fs.st_size;
            }
        }
    }
    close(fd);
    return st;
}
