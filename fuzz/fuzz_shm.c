/*
 * fuzz_shm.c - libFuzzer target for shared-memory segment files (src/core/zr_shm.c).
 *
 * A segment file is input the engine does not control: another user's program, a crash
 * mid-write or a stale layout may leave anything under a segment's name. Each fuzz input
 * builds one such file in a private directory ($ZR_FUZZ_DIR, else a fresh /tmp dir) in
 * one of three ways:
 *   0  raw bytes from the input;
 *   1  a genuine segment created by zr_shm_open, then byte patches and a truncation;
 *   2  a header whose fields come from the input, with a *correct* checksum (a corrupt or
 *      hostile file can carry a valid FNV checksum), followed by arbitrary bytes;
 * then opens it (random expected kind / fingerprint / payload size) and inspects it.
 * Invariants: open and inspect never crash and return a status code from the documented
 * set; on success the mapping covers header + payload (every payload byte is read, so an
 * overrun faults) and the header fields match what was asked for; inspect's reported sizes
 * are consistent with the file size; names are validated before any file is touched.
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/zr_shm.h"
#include "fuzz_input.h"

static char dir[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = getenv("ZR_FUZZ_DIR");
    snprintf(dir, sizeof dir, "%s/segs-%ld", base && base[0] ? base : "/tmp", (long)getpid());
    return 0;
}

static zr_status init_payload(void *p, void *arg)
{
    (void)arg;
    memset(p, 0xab, 8);
    return ZR_OK;
}

static int status_known(zr_status st)
{
    return st == ZR_OK || st == ZR_EINVAL || st == ZR_ERANGE || st == ZR_ESTATE ||
           st == ZR_EIO || st == ZR_ECORRUPT;
}

static void write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ZR_FUZZ_ASSERT(fd >= 0);
    if (len > 0) ZR_FUZZ_ASSERT(write(fd, buf, len) == (ssize_t)len);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in in = {data, size};
    ZR_FUZZ_ASSERT(zr_shm_ensure_dir(dir) == ZR_OK);
    const char *name = "seg";
    char path[ZR_SHM_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.zrseg", dir, name);
    unlink(path);

    uint8_t mode = zr_fuzz_u8(&in) % 3;
    uint32_t kind = (zr_fuzz_u8(&in) & 1) ? ZR_SHM_KIND_TEST : zr_fuzz_u32(&in);
    uint64_t fp = (zr_fuzz_u8(&in) & 1) ? 42 : zr_fuzz_u64(&in);
    size_t psize = (zr_fuzz_u8(&in) & 1) ? 64 : (size_t)(zr_fuzz_u32(&in) % 100000u);

    if (mode == 0) {
        size_t len = in.n < 8192 ? in.n : 8192;
        write_file(path, in.p, len);
        in.p += len;
        in.n -= len;
    }
    else if (mode == 1) {
        zr_shm s;
        memset(&s, 0, sizeof s);
        ZR_FUZZ_ASSERT(zr_shm_open(&s, dir, name, ZR_SHM_KIND_TEST, 42, 64, init_payload, NULL,
                                   NULL) == ZR_OK);
        size_t total = s.map_size;
        zr_shm_close(&s);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ZR_FUZZ_ASSERT(fd >= 0);
        uint8_t patches = zr_fuzz_u8(&in) % 16;
        for (uint8_t i = 0; i < patches; i++) {
            size_t at = (size_t)(zr_fuzz_u32(&in) % (uint32_t)total);
            uint8_t byte = zr_fuzz_u8(&in);
            ZR_FUZZ_ASSERT(pwrite(fd, &byte, 1, (off_t)at) == 1);
        }
        if (zr_fuzz_u8(&in) & 1) ZR_FUZZ_ASSERT(ftruncate(fd, (off_t)(zr_fuzz_u32(&in) % (total + 64))) == 0);
        close(fd);
    }
    else {
        zr_shm_header h;
        memset(&h, 0, sizeof h);
        h.magic = (zr_fuzz_u8(&in) & 1) ? ZR_SHM_MAGIC : zr_fuzz_u64(&in);
        h.layout_version = (zr_fuzz_u8(&in) & 1) ? ZR_SHM_LAYOUT_VERSION : zr_fuzz_u32(&in);
        h.kind = (zr_fuzz_u8(&in) & 1) ? kind : zr_fuzz_u32(&in);
        h.fingerprint = (zr_fuzz_u8(&in) & 1) ? fp : zr_fuzz_u64(&in);
        h.payload_size = (zr_fuzz_u8(&in) & 1) ? psize : zr_fuzz_u64(&in);
        h.payload_offset = (zr_fuzz_u8(&in) & 1) ? (sizeof h + 63) / 64 * 64 : zr_fuzz_u64(&in);
        h.creator_pid = (int64_t)zr_fuzz_u64(&in);
        h.created_at = zr_fuzz_double(&in);
        h.checksum = zr_fnv1a(&h, offsetof(zr_shm_header, checksum), ZR_FNV_OFFSET);
        size_t tail = zr_fuzz_u32(&in) % 4096u;
        size_t len = sizeof h + tail;
        uint8_t *buf = calloc(1, len);
        ZR_FUZZ_ASSERT(buf != NULL);
        memcpy(buf, &h, sizeof h);
        write_file(path, buf, len);
        free(buf);
    }

    struct stat fs;
    ZR_FUZZ_ASSERT(stat(path, &fs) == 0 || mode == 1);

    zr_shm_info info;
    memset(&info, 0, sizeof info);
    zr_status ist = zr_shm_inspect(path, &info);
    ZR_FUZZ_ASSERT(status_known(ist));
    if (ist == ZR_OK) {
        ZR_FUZZ_ASSERT(info.file_size == (uint64_t)fs.st_size);
        ZR_FUZZ_ASSERT(info.file_size >= sizeof(zr_shm_header));
        ZR_FUZZ_ASSERT(info.payload_size <= info.file_size - sizeof(zr_shm_header));
    }

    zr_shm s;
    memset(&s, 0x5a, sizeof s);
    zr_shm before = s;
    int created = -1;
    zr_status ost = zr_shm_open(&s, dir, name, kind, fp, psize, init_payload, NULL, &created);
    ZR_FUZZ_ASSERT(status_known(ost));
    if (ost == ZR_OK) {
        ZR_FUZZ_ASSERT(s.hdr != NULL && s.hdr->kind == kind && s.hdr->fingerprint == fp &&
                       s.hdr->payload_size == psize);
        ZR_FUZZ_ASSERT((char *)s.payload + psize <= (char *)s.base + s.map_size);
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < psize; i++) sum ^= ((const uint8_t *)s.payload)[i];
        (void)sum;
        zr_shm_close(&s);
    }
    else {
        ZR_FUZZ_ASSERT(memcmp(&s, &before, sizeof s) == 0); /* untouched on error */
    }

    /* names: arbitrary strings are validated before anything touches the file system */
    char nbuf[160];
    const char *nm = zr_fuzz_str(&in, nbuf, sizeof nbuf);
    int valid = zr_shm_name_valid(nm);
    if (valid) ZR_FUZZ_ASSERT(strchr(nm, '/') == NULL && nm[0] != '.' && strlen(nm) <= ZR_SHM_NAME_MAX);
    zr_status ust = zr_shm_unlink(dir, nm);
    if (!valid) ZR_FUZZ_ASSERT(ust == ZR_EINVAL);
    unlink(path);
    return 0;
}
