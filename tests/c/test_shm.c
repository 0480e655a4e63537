/* test_shm.c - shared segments: create/open, header checks, locking across real processes,
 * recovery from a process killed while holding the lock. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/zr_shm.h"
#include "zr_test.h"

typedef struct {
    uint64_t counter;
    uint64_t a, b; /* invariant: a == b (an "update" writes a, then b) */
} test_payload;

static zr_status init_payload(void *p, void *arg)
{
    test_payload *t = p;
    t->counter = arg ? *(uint64_t *)arg : 0;
    return ZR_OK;
}

static char dir[256];

static void fresh_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/zr_shm_test_%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {}
}

static void basics(void)
{
    zr_shm s, t;
    int created = -1;
    uint64_t start = 5;
    CHECK(zr_shm_open(&s, dir, "alpha", ZR_SHM_KIND_TEST, 42, sizeof(test_payload), init_payload,
                      &start, &created) == ZR_OK);
    CHECK(created == 1);
    CHECK(((test_payload *)s.payload)->counter == 5);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(s.path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(zr_shm_open(&t, dir, "alpha", ZR_SHM_KIND_TEST, 42, sizeof(test_payload), init_payload,
                      NULL, &created) == ZR_OK);
    CHECK(created == 0);
    ((test_payload *)s.payload)->counter = 77;
    CHECK(((test_payload *)t.payload)->counter == 77); /* same memory */
    zr_shm bad;
    CHECK(zr_shm_open(&bad, dir, "alpha", ZR_SHM_KIND_TEST, 43, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_ESTATE); /* other configuration */
    CHECK(zr_shm_open(&bad, dir, "alpha", ZR_SHM_KIND_BREAKER, 42, sizeof(test_payload), NULL,
                      NULL, NULL) == ZR_ECORRUPT); /* other kind */
    CHECK(zr_shm_open(&bad, dir, "bad/name", ZR_SHM_KIND_TEST, 1, 8, NULL, NULL, NULL) == ZR_EINVAL);
    CHECK(zr_shm_open(&bad, dir, ".hidden", ZR_SHM_KIND_TEST, 1, 8, NULL, NULL, NULL) == ZR_EINVAL);
    zr_shm_info info;
    CHECK(zr_shm_inspect(s.path, &info) == ZR_OK && info.fingerprint == 42 &&
          info.kind == ZR_SHM_KIND_TEST && info.creator_pid == getpid());
    zr_shm_close(&t);
    zr_shm_close(&s);
    CHECK(zr_shm_unlink(dir, "alpha") == ZR_OK);
    CHECK(zr_shm_unlink(dir, "alpha") == ZR_EIO);
}

static void bad_files(void)
{
    char path[400];
    zr_shm s;
    /* truncated */
    snprintf(path, sizeof path, "%s/short.zrseg", dir);
    FILE *f = fopen(path, "wb");
    fputs("tiny", f);
    fclose(f);
    chmod(path, 0600);
    CHECK(zr_shm_open(&s, dir, "short", ZR_SHM_KIND_TEST, 1, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_ECORRUPT);
    /* foreign: right size, garbage */
    snprintf(path, sizeof path, "%s/junk.zrseg", dir);
    f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    chmod(path, 0600);
    CHECK(zr_shm_open(&s, dir, "junk", ZR_SHM_KIND_TEST, 1, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_ECORRUPT);
    /* corrupted header byte of a valid segment */
    CHECK(zr_shm_open(&s, dir, "flip", ZR_SHM_KIND_TEST, 9, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_OK);
    ((zr_shm_header *)s.base)->fingerprint ^= 1; /* checksum no longer matches */
    zr_shm_close(&s);
    CHECK(zr_shm_open(&s, dir, "flip", ZR_SHM_KIND_TEST, 9 ^ 1, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_ECORRUPT);
    snprintf(path, sizeof path, "%s/flip.zrseg", dir);
    zr_shm_info info;
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    /* truncated after creation */
    CHECK(zr_shm_open(&s, dir, "cut", ZR_SHM_KIND_TEST, 3, 4096, NULL, NULL, NULL) == ZR_OK);
    CHECK(ftruncate(s.fd, 300) == 0);
    zr_shm_close(&s);
    CHECK(zr_shm_open(&s, dir, "cut", ZR_SHM_KIND_TEST, 3, 4096, NULL, NULL, NULL) == ZR_ECORRUPT);
    /* an unsafe directory is refused */
    char loose[300];
    snprintf(loose, sizeof loose, "%s/loose", dir);
    mkdir(loose, 0777);
    chmod(loose, 0777);
    CHECK(zr_shm_open(&s, loose, "x", ZR_SHM_KIND_TEST, 1, 8, NULL, NULL, NULL) == ZR_ESTATE);
}

static void many_processes(void)
{
    zr_shm s;
    CHECK(zr_shm_open(&s, dir, "counter", ZR_SHM_KIND_TEST, 7, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_OK);
    const int procs = 8, per = 20000;
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            zr_shm c; /* each child opens by name, as a separate program would */
            if (zr_shm_open(&c, dir, "counter", ZR_SHM_KIND_TEST, 7, sizeof(test_payload), NULL,
                            NULL, NULL) != ZR_OK)
                _exit(2);
            for (int i = 0; i < per; i++) {
                int rec;
                if (zr_shm_lock(&c, &rec) != ZR_OK) _exit(3);
                ((test_payload *)c.payload)->counter++;
                zr_shm_unlock(&c);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int p = 0; p < procs; p++) {
        int status;
        wait(&status);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    CHECK(((test_payload *)s.payload)->counter == (uint64_t)procs * per);
    zr_shm_close(&s);
}

static void killed_holder(void)
{
    zr_shm s;
    CHECK(zr_shm_open(&s, dir, "victim", ZR_SHM_KIND_TEST, 8, sizeof(test_payload), NULL, NULL,
                      NULL) == ZR_OK);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int rec;
        zr_shm_lock(&s, &rec);
        test_payload *t = s.payload;
        t->a = 1; /* half an update ... */
        if (write(pipefd[1], "x", 1) != 1) _exit(1);
        pause(); /* ... and killed before finishing it */
        _exit(0);
    }
    char c;
    CHECK(read(pipefd[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int rec = 0;
    CHECK(zr_shm_lock(&s, &rec) == ZR_OK);
    CHECK(rec == 1);
    test_payload *t = s.payload;
    CHECK(t->a != t->b); /* the torn update is visible to the repairer ... */
    t->b = t->a;         /* ... who repairs it */
    zr_shm_unlock(&s);
    CHECK(zr_shm_lock(&s, &rec) == ZR_OK && rec == 0); /* consistent again */
    zr_shm_unlock(&s);
    CHECK(s.hdr->recoveries == 1);
    zr_shm_close(&s);
    close(pipefd[0]);
    close(pipefd[1]);
}

void suite_shm(void)
{
    fresh_dir();
    char d[256];
    CHECK(zr_shm_default_dir(d, sizeof d) == ZR_OK && strstr(d, "zenoo_retry-") != NULL);
    CHECK(zr_shm_name_valid("payments-api.v2_x") && !zr_shm_name_valid("") &&
          !zr_shm_name_valid("a b"));
    basics();
    bad_files();
    many_processes();
    killed_holder();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {}
}
