/* SPDX-License-Identifier: GPL-2.0 */
/* Tiny TAP helpers for the in-VM nanoclock tests. */
#ifndef NC_TEST_H
#define NC_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int nc_t_num, nc_t_fail;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        nc_t_num++;                                                      \
        if (cond) {                                                      \
            printf("ok %d - ", nc_t_num);                                \
        } else {                                                         \
            nc_t_fail++;                                                 \
            printf("not ok %d - %s:%d: ", nc_t_num, __FILE__, __LINE__); \
        }                                                                \
        printf(__VA_ARGS__);                                             \
        printf("\n");                                                    \
        fflush(stdout);                                                  \
    } while (0)

static inline int nc_t_done(void) {
    printf("1..%d\n", nc_t_num);
    if (nc_t_fail) printf("# %d of %d checks failed\n", nc_t_fail, nc_t_num);
    return nc_t_fail ? 1 : 0;
}

static inline long long nc_t_ns(const struct timespec* ts) {
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

#endif
