/* Minimal test helpers for the C tests: each CHECK prints a TAP line; main returns
 * check_summary(), which is non-zero when any check failed. */
#ifndef IPVSRS_TEST_CHECK_H
#define IPVSRS_TEST_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int check_count, check_failures;

static void check_report(int ok, const char *what, const char *file, int line)
{
    check_count++;
    if (!ok)
        check_failures++;
    printf("%s %d - %s%s", ok ? "ok" : "not ok", check_count, what, ok ? "\n" : "");
    if (!ok)
        printf(" (%s:%d, errno %d: %s)\n", file, line, errno, strerror(errno));
}

#define CHECK(cond) check_report(!!(cond), #cond, __FILE__, __LINE__)

/* A call that must fail with a given errno. */
#define CHECK_FAILS_WITH(call, err) \
    do { errno = 0; int rc_ = (call); \
         check_report(rc_ == -1 && errno == (err), #call " fails with " #err, __FILE__, __LINE__); \
    } while (0)

#define CHECK_STR(a, b) check_report(strcmp((a), (b)) == 0, #a " == " #b, __FILE__, __LINE__)

static int check_summary(void)
{
    printf("1..%d\n%d passed, %d failed\n", check_count, check_count - check_failures,
           check_failures);
    return check_failures != 0;
}

#endif
