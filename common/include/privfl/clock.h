/*
 * privfl — time. Monotonic milliseconds for deadlines, wall time for logs.
 */
#ifndef PRIVFL_CLOCK_H
#define PRIVFL_CLOCK_H

#include <stdint.h>

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
int64_t pfl_clock_ms(void);
/* Monotonic clock in seconds, with sub-millisecond resolution. */
double pfl_clock_sec(void);
/* Wall clock, Unix seconds. */
double pfl_clock_wall(void);
/* Sleep for about ms milliseconds (a signal may end it early). */
void pfl_sleep_ms(int64_t ms);

#endif
