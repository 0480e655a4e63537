/* test_main.c - runs every C engine suite and prints "N passed, N failed". */
#include <stdlib.h>

#include "zr_test.h"

/* circuit breakers (issue 4) */
void suite_breaker(void);
/* observability (issue 6) */
void suite_metrics(void);

/* shared state (issue 5) */
void suite_shared(void);
void suite_shared_state(void);
void suite_fleet_adopt(void);

long zr_test_passed = 0;
long zr_test_failed = 0;

int main(void)
{
    suite_rng();
    suite_backoff();
    suite_shm();

    /* circuit breakers (issue 4) */
    suite_breaker();

    /* retry budgets and adaptive strategy (issue 4) */
    void suite_budget(void);
    void suite_adaptive(void);
    suite_budget();
    suite_adaptive();

    /* shared state (issue 5) */
    suite_shared();
    suite_shared_state();
    suite_fleet_adopt();

    /* observability (issue 6) */
    suite_metrics();

    /* hardening (issue 9) */
    {
        void suite_hardening(void);
        suite_hardening();
    }

    printf("%ld passed, %ld failed\n", zr_test_passed, zr_test_failed);
    return zr_test_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
