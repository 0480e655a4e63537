/*
 * zr_clock.h - the engine's only source of real time.
 *
 * Engine functions never read the clock themselves: they take `now` (seconds, monotonic)
 * as an argument, so tests drive them with a fake clock. Callers that want real time use
 * zr_clock_monotonic().
 */
#ifndef ZR_CLOCK_H
#define ZR_CLOCK_H

/* Seconds from an arbitrary fixed point, never going backwards (CLOCK_MONOTONIC). */
double zr_clock_monotonic(void);

/* Same time base as zr_clock_monotonic but read from the kernel's coarse clock
 * (CLOCK_MONOTONIC_COARSE on Linux: a few ns, resolution of a scheduler tick, ~1-4 ms).
 * For hot paths that only need tick precision (breaker admission in the closed state);
 * falls back to zr_clock_monotonic where no coarse clock exists. */
double zr_clock_coarse(void);

/* Seconds since the Unix epoch (CLOCK_REALTIME), for reporting only. */
double zr_clock_wall(void);

#endif /* ZR_CLOCK_H */
