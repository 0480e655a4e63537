/* test_hardening.c - regression tests for bugs found by the fuzz targets in fuzz/ (issue 9).
 * Each case replays, in a plain exact test, what a fuzz input revealed. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/zr_shm.h"
#include "zr_test.h"

void suite_hardening(void);

/* Write a segment header with a *valid* checksum (any program can compute FNV-1a) whose
 * payload_size is `psize`, followed by `tail` zero bytes. */
static void write_header(const char *path, uint64_t psize, size_t tail)
{
    zr_shm_header h;
    memset(&h, 0, sizeof h);
    h.magic = ZR_SHM_MAGIC;
    h.layout_version = ZR_SHM_LAYOUT_VERSION;
    h.kind = ZR_SHM_KIND_TEST;
    h.fingerprint = 42;
    h.payload_size = psize;
    h.payload_offset = (sizeof h + 63) / 64 * 64;
    h.checksum = zr_fnv1a(&h, offsetof(zr_shm_header, checksum), ZR_FNV_OFFSET);
    size_t len = sizeof h + tail;
    unsigned char *buf = calloc(1, len);
    memcpy(buf, &h, sizeof h);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
    close(fd);
    free(buf);
}

/* fuzz_shm found: payload_offset + payload_size wrapped around 2^64 for a huge
 * payload_size, so zr_shm_inspect accepted a file far shorter than its header claims. */
static void payload_size_does_not_wrap(void)
{
    char dir[128], path[300];
    snprintf(dir, sizeof dir, "/tmp/zr_hardening_test_%ld", (long)getpid());
    CHECK(zr_shm_ensure_dir(dir) == ZR_OK);
    snprintf(path, sizeof path, "%s/wrap.zrseg", dir);
    zr_shm_info info;
    const uint64_t off = (sizeof(zr_shm_header) + 63) / 64 * 64;
    write_header(path, UINT64_MAX - off + 1, 64); /* off + size == 2^64 == 0 */
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    write_header(path, UINT64_MAX, 64);
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    zr_shm s;
    CHECK(zr_shm_open(&s, dir, "wrap", ZR_SHM_KIND_TEST, 42, 64, NULL, NULL, NULL) == ZR_ECORRUPT);
    /* the honest case still works: a payload that fits exactly */
    write_header(path, 64, off - sizeof(zr_shm_header) + 64);
    CHECK(zr_shm_inspect(path, &info) == ZR_OK && info.payload_size == 64);
    write_header(path, 65, off - sizeof(zr_shm_header) + 64); /* one byte short */
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    unlink(path);
    rmdir(dir);
}

void suite_hardening(void) { payload_size_does_not_wrap(); }
