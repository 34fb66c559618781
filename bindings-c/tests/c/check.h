/* The C test programs' minimal harness: CHECK stops the program at the first
 * failed condition with the library's last error; RUN counts passed tests;
 * main prints "N passed, 0 failed", which the Rust side looks for. */
#ifndef EJ_TEST_CHECK_H
#define EJ_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int passed = 0;
#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",       \
                    __FILE__, __LINE__, #cond, ej_last_error());                \
            printf("%d passed, 1 failed\n", passed);                            \
            exit(1);                                                            \
        }                                                                       \
    } while (0)
#define TEST(name) static void name(void)
#define RUN(name) do { name(); passed++; printf("ok %s\n", #name); } while (0)

#endif
