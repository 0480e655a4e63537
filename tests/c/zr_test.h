/*
 * zr_test.h - a minimal test harness for the C engine tests.
 * CHECK(cond) records one passed or failed check; failures print file:line and the text.
 * The runner (test_main.c) prints "N passed, N failed" and exits non-zero on failure.
 */
#ifndef ZR_TEST_H
#define ZR_TEST_H

#include <math.h>
#include <stdio.h>

extern long zr_test_passed;
extern long zr_test_failed;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (cond) {                                                                           \
            zr_test_passed++;                                                                 \
        }                                                                                     \
        else {                                                                                \
            zr_test_failed++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
        }                                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, eps) CHECK(fabs((double)(a) - (double)(b)) <= (eps))

/* Each test file exposes one suite function, listed in test_main.c. */
void suite_backoff(void);
void suite_rng(void);
void suite_shm(void);

#endif /* ZR_TEST_H */
